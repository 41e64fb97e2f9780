package engine

import "fmt"

// Instr is one instruction: a fixed-width 64-bit word.
//
//	bits  0..7   opcode
//	bits  8..23  A (16 bits, unsigned)
//	bits 24..39  B (16 bits, unsigned, or signed for the K compare-and-branch forms)
//	bits 40..63  C (24 bits, unsigned, or signed for immediates)
type Instr uint64

// Op returns the opcode.
func (i Instr) Op() Opcode { return Opcode(i) }

// A returns the 16-bit A operand.
func (i Instr) A() int { return int(uint16(i >> 8)) }

// B returns the 16-bit B operand, unsigned.
func (i Instr) B() int { return int(uint16(i >> 24)) }

// SB returns the 16-bit B operand, sign-extended.
func (i Instr) SB() int64 { return int64(int16(uint16(i >> 24))) }

// C returns the 24-bit C operand, unsigned.
func (i Instr) C() int { return int(i >> 40) }

// SC returns the 24-bit C operand, sign-extended.
func (i Instr) SC() int64 { return int64(i) >> 40 }

// Limits of the operand fields.
const (
	MaxA   = 1<<16 - 1
	MaxB   = 1<<16 - 1
	MaxC   = 1<<24 - 1
	MinSB  = -1 << 15
	MaxSB  = 1<<15 - 1
	MinSC  = -1 << 23
	MaxSC  = 1<<23 - 1
	MaxPCs = 1 << 24 // code length limit: jump targets live in C
)

// Encode builds an instruction word. b and c may be negative for the operands
// that are signed; they are truncated to their field width, so callers check
// ranges first (the compiler does, and Validate rejects nothing it cannot run).
func Encode(op Opcode, a, b, c int) Instr {
	return Instr(uint64(op) | uint64(uint16(a))<<8 | uint64(uint16(b))<<24 | uint64(uint32(c)&MaxC)<<40)
}

func (i Instr) String() string {
	return fmt.Sprintf("%s a=%d b=%d c=%d", i.Op(), i.A(), i.B(), i.C())
}

// Opcode is the operation of an instruction. The comment on each opcode states
// its effect; R is the current frame's register window, G the globals, K the
// numeric constant pool, S the string constant pool, imm a signed immediate.
// Scalars (int, float, bool) are raw 64-bit words; bool is 0 or 1, float is
// its IEEE-754 bits. Refs are heap offsets, 0 being nil (the empty string,
// the nil slice). The operand table opInfo gives each operand's kind; Validate checks
// every instruction against it, and TestOpcodeTables keeps it in step.
type Opcode uint8

const (
	NOP Opcode = iota // -

	MOV     // R[a] = R[b]                      scalar
	MOVR    // R[a] = R[b]                      ref
	LOADI   // R[a] = imm(c)                    int immediate
	LOADK   // R[a] = K[c]                      int or float constant
	LOADNIL // R[a] = nil                       ref
	GETG    // R[a] = G[c]                      scalar global
	SETG    // G[c] = R[a]                      scalar global
	GETGR   // R[a] = G[c]                      ref global
	SETGR   // G[c] = R[a]                      ref global

	ADD  // R[a] = R[b] + R[c]                  int, wraps
	SUB  // R[a] = R[b] - R[c]                  int, wraps
	MUL  // R[a] = R[b] * R[c]                  int, wraps
	DIV  // R[a] = R[b] / R[c]                  int, truncated; faults on 0
	MOD  // R[a] = R[b] % R[c]                  int, sign of dividend; faults on 0
	ADDK // R[a] = R[b] + imm(c)                int
	MULK // R[a] = R[b] * imm(c)                int
	DIVK // R[a] = R[b] / imm(c)                int; Validate rejects imm 0
	MODK // R[a] = R[b] % imm(c)                int; Validate rejects imm 0
	NEG  // R[a] = -R[b]                        int
	AND  // R[a] = R[b] & R[c]                  int
	OR   // R[a] = R[b] | R[c]                  int
	XOR  // R[a] = R[b] ^ R[c]                  int
	SHL  // R[a] = R[b] << R[c]                 int; 0 for counts >= 64; faults on a negative count
	SHR  // R[a] = R[b] >> R[c]                 int, arithmetic (sign fill for counts >= 64); faults on a negative count
	EXT  // R[a] = R[b] cut to |imm(c)| bits     sign-extended when imm(c) < 0, zero-extended when > 0: the narrow int types

	FADD // R[a] = R[b] + R[c]                  float
	FSUB // R[a] = R[b] - R[c]                  float
	FMUL // R[a] = R[b] * R[c]                  float
	FDIV // R[a] = R[b] / R[c]                  float, IEEE (no fault)
	FNEG // R[a] = -R[b]                        float
	SQRT // R[a] = sqrt(R[b])                   float
	ITOF // R[a] = float(R[b])                  int -> float
	FTOI // R[a] = int(R[b])                    float -> int, truncated; faults on NaN or out of range

	EQ  // R[a] = R[b] == R[c]                 int or bool -> bool
	NE  // R[a] = R[b] != R[c]                 int or bool -> bool
	LT  // R[a] = R[b] < R[c]                  int -> bool
	LE  // R[a] = R[b] <= R[c]                 int -> bool
	FEQ // R[a] = R[b] == R[c]                 float -> bool
	FNE // R[a] = R[b] != R[c]                 float -> bool
	FLT // R[a] = R[b] < R[c]                  float -> bool
	FLE // R[a] = R[b] <= R[c]                 float -> bool
	SEQ // R[a] = R[b] == R[c]                 string -> bool
	SLT // R[a] = R[b] < R[c]                  string, bytewise -> bool
	SLE // R[a] = R[b] <= R[c]                 string, bytewise -> bool
	NOT // R[a] = !R[b]                        bool

	JMP    // pc = c                                     forward
	JT     // if R[a] != 0 { pc = c }                    forward
	JF     // if R[a] == 0 { pc = c }                    forward
	JEQ    // if R[a] == R[b] { pc = c }                 forward, int
	JNE    // if R[a] != R[b] { pc = c }                 forward, int
	JLT    // if R[a] < R[b] { pc = c }                  forward, int
	JLE    // if R[a] <= R[b] { pc = c }                 forward, int
	JEQK   // if R[a] == imm(b) { pc = c }               forward, int
	JNEK   // if R[a] != imm(b) { pc = c }               forward, int
	JLTK   // if R[a] < imm(b) { pc = c }                forward, int
	JLEK   // if R[a] <= imm(b) { pc = c }               forward, int
	JGTK   // if R[a] > imm(b) { pc = c }                forward, int
	JGEK   // if R[a] >= imm(b) { pc = c }               forward, int
	LOOP   // pc = c                                     backward; safepoint
	LOOPT  // if R[a] != 0 { pc = c }                    backward; safepoint when taken
	LOOPLT // if R[a] < R[b] { pc = c }                  backward, int; safepoint when taken
	LOOPLE // if R[a] <= R[b] { pc = c }                 backward, int; safepoint when taken

	CALL  // R[b] = F[c](R[a], ..., R[a+n-1])    n = F[c].NParams; safepoint on entry
	CALLF // R[b] = F[R[a].f0](R[a], ..., R[a+n-1])  a closure call: F the function the closure R[a] names, of F[c]'s shape (checked); safepoint
	RET   // return R[a]                          scalar result
	RETR  // return R[a]                          ref result
	RET0  // return                               no result (the caller's R[b] becomes 0)
	RETN  // return R[a], ..., R[a+n-1]           n = len(Results) >= 2; the caller's R[b..b+n) receive them

	NEWARR    // R[a] = make([]T, R[b])          T scalar; elements zero; faults on negative length
	NEWARRR   // R[a] = make([]T, R[b])          T a ref kind; elements nil
	NEWSLICE  // R[a] = make([]T, R[b], R[c])    T scalar; faults on negative length or R[c] < R[b]
	NEWSLICER // R[a] = make([]T, R[b], R[c])    T a ref kind
	LEN       // R[a] = len(R[b])                string or slice
	CAP       // R[a] = cap(R[b])                slice
	AGET      // R[a] = R[b][R[c]]               scalar element; faults out of range or on a ref slice
	AGETR     // R[a] = R[b][R[c]]               ref element; faults out of range or on a scalar slice
	ASET      // R[a][R[b]] = R[c]               scalar element; faults out of range or on a ref slice
	ASETR     // R[a][R[b]] = R[c]               ref element; faults out of range or on a scalar slice
	APPEND    // R[a] = append(R[a], R[c])       scalar element; b = Go element size | elemsPointers<<15, for Go's growth rule
	APPENDR   // R[a] = append(R[a], R[c])       ref element; b as APPEND
	APPENDSL  // R[a] = append(R[a], R[c]...)    slices of one element kind; b as APPEND
	APPENDST  // R[a] = append(R[a], R[c]...)    R[a] a []byte, R[c] a string; b as APPEND
	SLICE     // R[a] = R[b][R[c]:R[c+1]]        slice; faults on bad bounds
	SLICE3    // R[a] = R[b][R[c]:R[c+1]:R[c+2]] slice; faults on bad bounds
	SSLICE    // R[a] = R[b][R[c]:R[c+1]]        string (a copy); faults on bad bounds
	COPY      // R[a] = copy(R[b], R[c])         slices of one element kind; overlap-safe
	COPYS     // R[a] = copy(R[b], R[c])         R[b] a []byte, R[c] a string
	STOB      // R[a] = []byte(R[b])             string -> new []byte
	BTOS      // R[a] = string(R[b])             []byte -> new string (each element's low byte)
	RTOS      // R[a] = string(rune(R[b]))       UTF-8 of a rune; U+FFFD if invalid
	RUNE      // R[a], R[a+1] = rune, width at R[b][R[c]]  UTF-8 decoding as for range; faults out of range
	ISNIL     // R[a] = R[b] == nil              ref -> bool
	REQ       // R[a] = R[b] == R[c]             refs: the same object (pointers) -> bool
	NEWSTRUCT // R[a] = new struct of b fields   zero fields; ref mask K[c], value mask K[c+1]
	GETF      // R[a] = R[b].f[c]                scalar field; faults on nil or a field of another kind
	GETFR     // R[a] = R[b].f[c]                ref field
	SETF      // R[a].f[b] = R[c]                scalar field
	SETFR     // R[a].f[b] = R[c]                ref field
	CLONE     // R[a] = copy of struct R[b]      deep through the value fields
	SCOPY     // *R[a] = *R[b]                   struct assignment: fields copied into R[a]'s objects; same shape
	APPENDV   // R[a] = append(R[a], R[c])       slice of struct values (R[c] a copy it may keep); b as APPEND
	APPENDSLV // R[a] = append(R[a], R[c]...)    slices of struct values; b as APPEND
	COPYV     // R[a] = copy(R[b], R[c])         slices of struct values
	FILLV     // every element of R[a]'s array = zero value shaped like struct R[b]  make([]T, n, c) of structs
	NEWMAP    // R[a] = make(map[K]V, R[c])      b: mapStringKeys | mapRefValues
	MAPFIND   // R[a] = entry of key R[c] in map R[b], or -1    scalar key (an int or bool)
	MAPFINDS  // R[a] = entry of key R[c] in map R[b], or -1    string key
	MAPVAL    // R[a] = value of entry R[c] of map R[b]         scalar value; zero when R[c] < 0
	MAPVALR   // R[a] = value of entry R[c] of map R[b]         ref value; nil when R[c] < 0
	MAPINS    // R[a] = entry of key R[c] in map R[b]           scalar key; appends one with a zero value if absent; faults on nil
	MAPINSS   // R[a] = entry of key R[c] in map R[b]           string key; as MAPINS
	MAPSET    // value of entry R[b] of map R[a] = R[c]          scalar value
	MAPSETR   // value of entry R[b] of map R[a] = R[c]          ref value
	MAPDEL    // delete(R[a], R[b])              scalar key
	MAPDELS   // delete(R[a], R[b])              string key
	MAPKEYS   // R[a] = the live keys of map R[b], in entry order  a new slice: what range iterates
	SORT      // sort the slice R[a] in place      ints, or strings bytewise (printing a map)
	SCONST    // R[a] = S[c]                     allocates a new string
	CONCAT    // R[a] = R[b] + R[c]              string
	SGET      // R[a] = int(R[b][R[c]])          byte of a string; faults out of range
	ITOS      // R[a] = decimal string of R[b]   int -> string
	FTOS      // R[a] = shortest string of R[b]  float -> string ('g' format)

	PRINT   // output += format(R[a])            b selects the format: PrintInt, PrintFloat, PrintBool
	PRINTS  // output += R[a]                    string
	PRINTP  // output += "0x" hex of R[a]        ref: a pointer as %v prints one inside a value (its heap offset; "<nil>" for nil)
	PRINTSP // output += " "
	PRINTNL // output += "\n"

	numOpcodes
)

// Print formats, the B operand of PRINT.
const (
	PrintInt   = 0
	PrintFloat = 1
	PrintBool  = 2
)

// Operand kinds, used by Validate and the disassembler.
type operand uint8

const (
	none    operand = iota
	sreg            // register holding a scalar
	rreg            // register holding a ref
	imm             // signed immediate (SB for B, SC for C)
	nzimm           // signed immediate that must not be 0
	konst           // index into Consts
	str             // index into Strings
	sglobal         // index of a scalar global
	rglobal         // index of a ref global
	fwd             // forward jump target: pc < target < End of function
	back            // backward jump target: Entry <= target <= pc
	fn              // index into Funcs
	pformat         // PrintInt, PrintFloat or PrintBool
	argwin          // first register of a call's argument window; checked against the callee
	resreg          // register receiving a call's result; checked against the callee
	esize           // Go element size and pointer flag of an append (any 16-bit value)
	sreg2           // first of two consecutive scalar registers
	sreg3           // first of three consecutive scalar registers
	nfields         // a struct's field count, 0 to 64
	konst2          // index of the first of two consecutive constants
	fieldno         // a field index, 0 to 63
	mapinfo         // what a map's keys and values are: mapStringKeys | mapRefValues
)

// opInfo describes each opcode: its name and the kinds of A, B and C.
var opInfo = [numOpcodes]struct {
	name    string
	a, b, c operand
}{
	NOP:       {"nop", none, none, none},
	MOV:       {"mov", sreg, sreg, none},
	MOVR:      {"movr", rreg, rreg, none},
	LOADI:     {"loadi", sreg, none, imm},
	LOADK:     {"loadk", sreg, none, konst},
	LOADNIL:   {"loadnil", rreg, none, none},
	GETG:      {"getg", sreg, none, sglobal},
	SETG:      {"setg", sreg, none, sglobal},
	GETGR:     {"getgr", rreg, none, rglobal},
	SETGR:     {"setgr", rreg, none, rglobal},
	ADD:       {"add", sreg, sreg, sreg},
	SUB:       {"sub", sreg, sreg, sreg},
	MUL:       {"mul", sreg, sreg, sreg},
	DIV:       {"div", sreg, sreg, sreg},
	MOD:       {"mod", sreg, sreg, sreg},
	ADDK:      {"addk", sreg, sreg, imm},
	MULK:      {"mulk", sreg, sreg, imm},
	DIVK:      {"divk", sreg, sreg, nzimm},
	MODK:      {"modk", sreg, sreg, nzimm},
	NEG:       {"neg", sreg, sreg, none},
	AND:       {"and", sreg, sreg, sreg},
	OR:        {"or", sreg, sreg, sreg},
	XOR:       {"xor", sreg, sreg, sreg},
	SHL:       {"shl", sreg, sreg, sreg},
	SHR:       {"shr", sreg, sreg, sreg},
	EXT:       {"ext", sreg, sreg, imm},
	FADD:      {"fadd", sreg, sreg, sreg},
	FSUB:      {"fsub", sreg, sreg, sreg},
	FMUL:      {"fmul", sreg, sreg, sreg},
	FDIV:      {"fdiv", sreg, sreg, sreg},
	FNEG:      {"fneg", sreg, sreg, none},
	SQRT:      {"sqrt", sreg, sreg, none},
	ITOF:      {"itof", sreg, sreg, none},
	FTOI:      {"ftoi", sreg, sreg, none},
	EQ:        {"eq", sreg, sreg, sreg},
	NE:        {"ne", sreg, sreg, sreg},
	LT:        {"lt", sreg, sreg, sreg},
	LE:        {"le", sreg, sreg, sreg},
	FEQ:       {"feq", sreg, sreg, sreg},
	FNE:       {"fne", sreg, sreg, sreg},
	FLT:       {"flt", sreg, sreg, sreg},
	FLE:       {"fle", sreg, sreg, sreg},
	SEQ:       {"seq", sreg, rreg, rreg},
	SLT:       {"slt", sreg, rreg, rreg},
	SLE:       {"sle", sreg, rreg, rreg},
	NOT:       {"not", sreg, sreg, none},
	JMP:       {"jmp", none, none, fwd},
	JT:        {"jt", sreg, none, fwd},
	JF:        {"jf", sreg, none, fwd},
	JEQ:       {"jeq", sreg, sreg, fwd},
	JNE:       {"jne", sreg, sreg, fwd},
	JLT:       {"jlt", sreg, sreg, fwd},
	JLE:       {"jle", sreg, sreg, fwd},
	JEQK:      {"jeqk", sreg, imm, fwd},
	JNEK:      {"jnek", sreg, imm, fwd},
	JLTK:      {"jltk", sreg, imm, fwd},
	JLEK:      {"jlek", sreg, imm, fwd},
	JGTK:      {"jgtk", sreg, imm, fwd},
	JGEK:      {"jgek", sreg, imm, fwd},
	LOOP:      {"loop", none, none, back},
	LOOPT:     {"loopt", sreg, none, back},
	LOOPLT:    {"looplt", sreg, sreg, back},
	LOOPLE:    {"loople", sreg, sreg, back},
	CALL:      {"call", argwin, resreg, fn},
	CALLF:     {"callf", argwin, resreg, fn},
	RET:       {"ret", sreg, none, none},
	RETR:      {"retr", rreg, none, none},
	RET0:      {"ret0", none, none, none},
	RETN:      {"retn", argwin, none, none},
	NEWARR:    {"newarr", rreg, sreg, none},
	NEWARRR:   {"newarrr", rreg, sreg, none},
	NEWSLICE:  {"newslice", rreg, sreg, sreg},
	NEWSLICER: {"newslicer", rreg, sreg, sreg},
	LEN:       {"len", sreg, rreg, none},
	CAP:       {"cap", sreg, rreg, none},
	AGET:      {"aget", sreg, rreg, sreg},
	AGETR:     {"agetr", rreg, rreg, sreg},
	ASET:      {"aset", rreg, sreg, sreg},
	ASETR:     {"asetr", rreg, sreg, rreg},
	APPEND:    {"append", rreg, esize, sreg},
	APPENDR:   {"appendr", rreg, esize, rreg},
	APPENDSL:  {"appendsl", rreg, esize, rreg},
	APPENDST:  {"appendst", rreg, esize, rreg},
	SLICE:     {"slice", rreg, rreg, sreg2},
	SLICE3:    {"slice3", rreg, rreg, sreg3},
	SSLICE:    {"sslice", rreg, rreg, sreg2},
	COPY:      {"copy", sreg, rreg, rreg},
	COPYS:     {"copys", sreg, rreg, rreg},
	STOB:      {"stob", rreg, rreg, none},
	BTOS:      {"btos", rreg, rreg, none},
	RTOS:      {"rtos", rreg, sreg, none},
	RUNE:      {"rune", sreg2, rreg, sreg},
	ISNIL:     {"isnil", sreg, rreg, none},
	REQ:       {"req", sreg, rreg, rreg},
	NEWSTRUCT: {"newstruct", rreg, nfields, konst2},
	GETF:      {"getf", sreg, rreg, fieldno},
	GETFR:     {"getfr", rreg, rreg, fieldno},
	SETF:      {"setf", rreg, fieldno, sreg},
	SETFR:     {"setfr", rreg, fieldno, rreg},
	CLONE:     {"clone", rreg, rreg, none},
	SCOPY:     {"scopy", rreg, rreg, none},
	APPENDV:   {"appendv", rreg, esize, rreg},
	APPENDSLV: {"appendslv", rreg, esize, rreg},
	COPYV:     {"copyv", sreg, rreg, rreg},
	FILLV:     {"fillv", rreg, rreg, none},
	NEWMAP:    {"newmap", rreg, mapinfo, sreg},
	MAPFIND:   {"mapfind", sreg, rreg, sreg},
	MAPFINDS:  {"mapfinds", sreg, rreg, rreg},
	MAPVAL:    {"mapval", sreg, rreg, sreg},
	MAPVALR:   {"mapvalr", rreg, rreg, sreg},
	MAPINS:    {"mapins", sreg, rreg, sreg},
	MAPINSS:   {"mapinss", sreg, rreg, rreg},
	MAPSET:    {"mapset", rreg, sreg, sreg},
	MAPSETR:   {"mapsetr", rreg, sreg, rreg},
	MAPDEL:    {"mapdel", rreg, sreg, none},
	MAPDELS:   {"mapdels", rreg, rreg, none},
	MAPKEYS:   {"mapkeys", rreg, rreg, none},
	SORT:      {"sort", rreg, none, none},
	SCONST:    {"sconst", rreg, none, str},
	CONCAT:    {"concat", rreg, rreg, rreg},
	SGET:      {"sget", sreg, rreg, sreg},
	ITOS:      {"itos", rreg, sreg, none},
	FTOS:      {"ftos", rreg, sreg, none},
	PRINT:     {"print", sreg, pformat, none},
	PRINTS:    {"prints", rreg, none, none},
	PRINTP:    {"printp", rreg, none, none},
	PRINTSP:   {"printsp", none, none, none},
	PRINTNL:   {"printnl", none, none, none},
}

func (op Opcode) String() string {
	if op < numOpcodes && opInfo[op].name != "" {
		return opInfo[op].name
	}
	return fmt.Sprintf("op%d", uint8(op))
}
