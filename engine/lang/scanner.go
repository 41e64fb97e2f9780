package lang

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

// token is a lexical token kind.
type token uint8

const (
	tEOF token = iota
	tIllegal
	tIdent
	tInt
	tFloat
	tChar
	tString

	tAdd // +
	tSub // -
	tMul // *
	tQuo // /
	tRem // %
	tAnd // &
	tOr  // |
	tXor // ^
	tShl // <<
	tShr // >>

	tAddAssign // +=
	tSubAssign // -=
	tMulAssign // *=
	tQuoAssign // /=
	tRemAssign // %=
	tAndAssign // &=
	tOrAssign  // |=
	tXorAssign // ^=
	tShlAssign // <<=
	tShrAssign // >>=

	tLAnd   // &&
	tLOr    // ||
	tInc    // ++
	tDec    // --
	tEql    // ==
	tLss    // <
	tGtr    // >
	tAssign // =
	tNot    // !
	tNeq    // !=
	tLeq    // <=
	tGeq    // >=
	tDefine // :=

	tLparen // (
	tLbrack // [
	tLbrace // {
	tComma  // ,
	tPeriod // .
	tRparen // )
	tRbrack // ]
	tRbrace // }
	tSemi   // ; or a newline
	tColon  // :

	tBreak
	tConst
	tContinue
	tElse
	tFor
	tFunc
	tIf
	tPackage
	tReturn
	tVar

	// Go keywords that Knoten reserves but does not support.
	tUnsupported

	numTokens
)

var tokenText = [numTokens]string{
	tEOF: "EOF", tIllegal: "illegal character", tIdent: "identifier", tInt: "integer literal",
	tFloat: "float literal", tChar: "character literal", tString: "string literal",
	tAdd: "+", tSub: "-", tMul: "*", tQuo: "/", tRem: "%", tAnd: "&", tOr: "|", tXor: "^", tShl: "<<", tShr: ">>",
	tAddAssign: "+=", tSubAssign: "-=", tMulAssign: "*=", tQuoAssign: "/=", tRemAssign: "%=",
	tAndAssign: "&=", tOrAssign: "|=", tXorAssign: "^=", tShlAssign: "<<=", tShrAssign: ">>=",
	tLAnd: "&&", tLOr: "||", tInc: "++", tDec: "--", tEql: "==", tLss: "<", tGtr: ">", tAssign: "=",
	tNot: "!", tNeq: "!=", tLeq: "<=", tGeq: ">=", tDefine: ":=",
	tLparen: "(", tLbrack: "[", tLbrace: "{", tComma: ",", tPeriod: ".", tRparen: ")", tRbrack: "]",
	tRbrace: "}", tSemi: ";", tColon: ":",
	tBreak: "break", tConst: "const", tContinue: "continue", tElse: "else", tFor: "for", tFunc: "func",
	tIf: "if", tPackage: "package", tReturn: "return", tVar: "var", tUnsupported: "keyword",
}

func (t token) String() string {
	if t < numTokens {
		return tokenText[t]
	}
	return fmt.Sprintf("token%d", uint8(t))
}

var keywords = map[string]token{
	"break": tBreak, "const": tConst, "continue": tContinue, "else": tElse, "for": tFor,
	"func": tFunc, "if": tIf, "package": tPackage, "return": tReturn, "var": tVar,
	"case": tUnsupported, "chan": tUnsupported, "default": tUnsupported, "defer": tUnsupported,
	"fallthrough": tUnsupported, "go": tUnsupported, "goto": tUnsupported, "import": tUnsupported,
	"interface": tUnsupported, "map": tUnsupported, "range": tUnsupported, "select": tUnsupported,
	"struct": tUnsupported, "switch": tUnsupported, "type": tUnsupported,
}

// Pos is a source position: 1-based line and byte column.
type Pos struct{ Line, Col int }

// scanner turns source bytes into tokens, inserting semicolons at line ends
// the way Go does.
type scanner struct {
	src       []byte
	off       int // offset of the next unread byte
	line      int
	lineStart int
	semi      bool // insert a semicolon before the next newline or EOF
	errf      func(Pos, string)
}

func (s *scanner) init(src []byte, errf func(Pos, string)) {
	s.src, s.line, s.errf = src, 1, errf
}

func (s *scanner) pos(off int) Pos { return Pos{s.line, off - s.lineStart + 1} }

// next returns the next token, its position and its literal text (for
// identifiers, literals and semicolons: "\n" when inserted at a newline).
func (s *scanner) next() (tok token, pos Pos, lit string) {
redo:
	// Skip white space, but stop at a newline that ends a statement.
	for s.off < len(s.src) {
		c := s.src[s.off]
		if c == '\n' {
			if s.semi {
				break
			}
			s.newline(s.off + 1)
			continue
		}
		if c == ' ' || c == '\t' || c == '\r' {
			s.off++
			continue
		}
		break
	}
	pos = s.pos(s.off)
	if s.off >= len(s.src) {
		if s.semi {
			s.semi = false
			return tSemi, pos, "\n"
		}
		return tEOF, pos, ""
	}
	start := s.off
	c := s.src[s.off]
	semi := false
	switch {
	case c == '\n':
		s.semi = false
		s.newline(s.off + 1)
		return tSemi, pos, "\n"
	case isLetter(c) || c >= utf8.RuneSelf && s.unicodeLetter():
		if c < utf8.RuneSelf {
			s.off++ // a non-ASCII first letter was consumed by unicodeLetter
		}
		for s.off < len(s.src) {
			if c := s.src[s.off]; isLetter(c) || isDigit(c) {
				s.off++
			} else if c < utf8.RuneSelf || !s.unicodeLetter() {
				break
			}
		}
		lit = string(s.src[start:s.off])
		tok = tIdent
		if kw, ok := keywords[lit]; ok {
			tok = kw
		}
		semi = tok == tIdent || tok == tBreak || tok == tContinue || tok == tReturn
	case isDigit(c) || c == '.' && s.off+1 < len(s.src) && isDigit(s.src[s.off+1]):
		tok, lit = s.number()
		semi = true
	case c == '"':
		tok, lit = s.stringLit()
		semi = true
	case c == '`':
		tok, lit = s.rawString()
		semi = true
	case c == '\'':
		tok, lit = s.charLit()
		semi = true
	case c == '/' && s.off+1 < len(s.src) && (s.src[s.off+1] == '/' || s.src[s.off+1] == '*'):
		if s.src[s.off+1] == '/' {
			for s.off < len(s.src) && s.src[s.off] != '\n' {
				s.off++
			}
			goto redo // the newline (if any) is handled above
		}
		// A block comment that spans lines acts like a newline.
		s.off += 2
		hadNewline := false
		for {
			if s.off+1 >= len(s.src) {
				s.errf(pos, "comment not terminated")
				s.off = len(s.src)
				break
			}
			if s.src[s.off] == '*' && s.src[s.off+1] == '/' {
				s.off += 2
				break
			}
			if s.src[s.off] == '\n' {
				hadNewline = true
				s.newline(s.off + 1)
				continue
			}
			s.off++
		}
		if hadNewline && s.semi {
			s.semi = false
			return tSemi, pos, "\n"
		}
		goto redo
	default:
		s.off++
		tok = s.operator(c)
		if tok == tIllegal {
			r, size := utf8.DecodeRune(s.src[start:])
			s.off = start + max(size, 1)
			s.errf(pos, fmt.Sprintf("invalid character %q", r))
			goto redo
		}
		semi = tok == tInc || tok == tDec || tok == tRparen || tok == tRbrack || tok == tRbrace
	}
	s.semi = semi
	return tok, pos, lit
}

func (s *scanner) newline(next int) {
	s.off = next
	s.line++
	s.lineStart = next
}

// unicodeLetter reports whether a letter rune starts at s.off and, if so,
// consumes it.
func (s *scanner) unicodeLetter() bool {
	r, size := utf8.DecodeRune(s.src[s.off:])
	if r == utf8.RuneError || !unicode.IsLetter(r) {
		return false
	}
	s.off += size
	return true
}

func (s *scanner) operator(c byte) token {
	peek := func(b byte) bool {
		if s.off < len(s.src) && s.src[s.off] == b {
			s.off++
			return true
		}
		return false
	}
	switch c {
	case '+':
		if peek('+') {
			return tInc
		}
		if peek('=') {
			return tAddAssign
		}
		return tAdd
	case '-':
		if peek('-') {
			return tDec
		}
		if peek('=') {
			return tSubAssign
		}
		return tSub
	case '*':
		if peek('=') {
			return tMulAssign
		}
		return tMul
	case '/':
		if peek('=') {
			return tQuoAssign
		}
		return tQuo
	case '%':
		if peek('=') {
			return tRemAssign
		}
		return tRem
	case '&':
		if peek('&') {
			return tLAnd
		}
		if peek('=') {
			return tAndAssign
		}
		return tAnd
	case '|':
		if peek('|') {
			return tLOr
		}
		if peek('=') {
			return tOrAssign
		}
		return tOr
	case '^':
		if peek('=') {
			return tXorAssign
		}
		return tXor
	case '<':
		if peek('<') {
			if peek('=') {
				return tShlAssign
			}
			return tShl
		}
		if peek('=') {
			return tLeq
		}
		return tLss
	case '>':
		if peek('>') {
			if peek('=') {
				return tShrAssign
			}
			return tShr
		}
		if peek('=') {
			return tGeq
		}
		return tGtr
	case '=':
		if peek('=') {
			return tEql
		}
		return tAssign
	case '!':
		if peek('=') {
			return tNeq
		}
		return tNot
	case ':':
		if peek('=') {
			return tDefine
		}
		return tColon
	case '(':
		return tLparen
	case ')':
		return tRparen
	case '[':
		return tLbrack
	case ']':
		return tRbrack
	case '{':
		return tLbrace
	case '}':
		return tRbrace
	case ',':
		return tComma
	case ';':
		return tSemi
	case '.':
		return tPeriod
	}
	return tIllegal
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' }
func isDigit(c byte) bool  { return '0' <= c && c <= '9' }
func isHexOrAlnum(c byte) bool {
	return isDigit(c) || isLetter(c)
}

// number scans an integer or floating-point literal. The text is checked by
// strconv later; here it only needs to end in the right place.
func (s *scanner) number() (token, string) {
	start := s.off
	tok := tInt
	if s.src[s.off] == '0' && s.off+1 < len(s.src) && (s.src[s.off+1]|0x20 == 'x' || s.src[s.off+1]|0x20 == 'b' || s.src[s.off+1]|0x20 == 'o') {
		s.off += 2
		for s.off < len(s.src) && isHexOrAlnum(s.src[s.off]) {
			s.off++
		}
		return tok, string(s.src[start:s.off])
	}
	for s.off < len(s.src) && (isDigit(s.src[s.off]) || s.src[s.off] == '_') {
		s.off++
	}
	if s.off < len(s.src) && s.src[s.off] == '.' {
		tok = tFloat
		s.off++
		for s.off < len(s.src) && (isDigit(s.src[s.off]) || s.src[s.off] == '_') {
			s.off++
		}
	}
	if s.off < len(s.src) && s.src[s.off]|0x20 == 'e' {
		tok = tFloat
		s.off++
		if s.off < len(s.src) && (s.src[s.off] == '+' || s.src[s.off] == '-') {
			s.off++
		}
		for s.off < len(s.src) && isDigit(s.src[s.off]) {
			s.off++
		}
	}
	// Swallow trailing letters so that "12abc" is one bad literal.
	for s.off < len(s.src) && (isLetter(s.src[s.off]) || isDigit(s.src[s.off])) {
		s.off++
	}
	return tok, string(s.src[start:s.off])
}

// stringLit scans an interpreted string literal, including its quotes. Escapes
// are decoded by the parser with strconv.Unquote.
func (s *scanner) stringLit() (token, string) {
	start := s.off
	pos := s.pos(start)
	s.off++
	for {
		if s.off >= len(s.src) || s.src[s.off] == '\n' {
			s.errf(pos, "string literal not terminated")
			return tString, `""`
		}
		c := s.src[s.off]
		s.off++
		if c == '"' {
			break
		}
		if c == '\\' && s.off < len(s.src) && s.src[s.off] != '\n' {
			s.off++
		}
	}
	return tString, string(s.src[start:s.off])
}

func (s *scanner) rawString() (token, string) {
	start := s.off
	pos := s.pos(start)
	s.off++
	for {
		if s.off >= len(s.src) {
			s.errf(pos, "raw string literal not terminated")
			return tString, "``"
		}
		c := s.src[s.off]
		if c == '\n' {
			s.newline(s.off + 1)
			continue
		}
		s.off++
		if c == '`' {
			break
		}
	}
	return tString, string(s.src[start:s.off])
}

func (s *scanner) charLit() (token, string) {
	start := s.off
	pos := s.pos(start)
	s.off++
	for {
		if s.off >= len(s.src) || s.src[s.off] == '\n' {
			s.errf(pos, "rune literal not terminated")
			return tChar, "'?'"
		}
		c := s.src[s.off]
		s.off++
		if c == '\'' {
			break
		}
		if c == '\\' && s.off < len(s.src) && s.src[s.off] != '\n' {
			s.off++
		}
	}
	return tChar, string(s.src[start:s.off])
}
