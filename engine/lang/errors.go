package lang

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// MaxErrors is the number of errors Compile reports before it gives up.
const MaxErrors = 10

// Error is one compile error at a source position.
type Error struct {
	File string
	Line int // 1-based
	Col  int // 1-based, in bytes
	Msg  string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
}

// ErrorList is the error Compile returns for a program that does not compile:
// the first MaxErrors errors, in source order.
type ErrorList []*Error

// Error lists every error, each on its own line with its position, as the Go
// compiler does; a list of MaxErrors ends with a line saying that Compile
// stopped there, since more may follow.
func (l ErrorList) Error() string {
	switch len(l) {
	case 0:
		return "no errors"
	case 1:
		return l[0].Error()
	}
	var b strings.Builder
	for i, e := range l {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	if len(l) >= MaxErrors {
		fmt.Fprintf(&b, "\ntoo many errors: stopped after %d", len(l))
	}
	return b.String()
}

// Unwrap lets errors.As find an individual *Error.
func (l ErrorList) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}

// String lists every error, one per line.
func (l ErrorList) String() string {
	var b strings.Builder
	for _, e := range l {
		b.WriteString(e.Error())
		b.WriteByte('\n')
	}
	return b.String()
}

func (l ErrorList) sort() {
	sort.SliceStable(l, func(i, j int) bool {
		if l[i].Line != l[j].Line {
			return l[i].Line < l[j].Line
		}
		return l[i].Col < l[j].Col
	})
}

// ErrInternal marks a compiler bug: a panic inside the compiler or a program
// that the engine's Validate rejects. Compile never returns it for any input
// unless the compiler itself is wrong; the fuzz target checks exactly that.
var ErrInternal = errors.New("BUG: internal compiler error")

// bailout is the panic value that stops compilation after too many errors or
// on a limit that makes going on pointless.
type bailout struct{}
