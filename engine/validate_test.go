package engine

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateRejects(t *testing.T) {
	good := func() *Program {
		p := fibProgram(t, 5)
		q := *p
		q.validated = false
		q.Code = append([]Instr(nil), p.Code...)
		q.Funcs = append([]Func(nil), p.Funcs...)
		return &q
	}
	cases := []struct {
		name   string
		mutate func(p *Program)
		want   string
	}{
		{"unknown opcode", func(p *Program) { p.Code[1] = Instr(numOpcodes) }, "unknown opcode"},
		{"register out of range", func(p *Program) { p.Code[6] = Encode(ADD, 1, 1, 9) }, "scalar register"},
		{"ref register used as scalar", func(p *Program) { p.Funcs[0].RefRegs[0] = 1 << 1 }, "scalar register"},
		{"forward jump backwards", func(p *Program) { p.Code[0] = Encode(JGEK, 0, 2, 0) }, "forward target"},
		{"backward jump forwards", func(p *Program) { p.Code[0] = Encode(LOOP, 0, 0, 5) }, "backward target"},
		{"jump out of function", func(p *Program) { p.Code[0] = Encode(JMP, 0, 0, 9) }, "forward target"},
		{"call of missing function", func(p *Program) { p.Code[3] = Encode(CALL, 1, 0, 7) }, "function"},
		{"call window too big", func(p *Program) { p.Code[3] = Encode(CALL, 3, 1, 0) }, "argument window"},
		{"call result into bad register", func(p *Program) { p.Code[3] = Encode(CALL, 1, 7, 0) }, "result register"},
		{"unused field set", func(p *Program) { p.Code[1] = Encode(RET, 0, 1, 0) }, "unused"},
		{"falls off the end", func(p *Program) { p.Code[7] = Encode(NOP, 0, 0, 0) }, "does not end"},
		{"gap in functions", func(p *Program) { p.Funcs[1].Entry++ }, "tile"},
		{"entry with params", func(p *Program) { p.Entry = 0 }, "takes parameters"},
		{"missing positions", func(p *Program) { p.Pos = p.Pos[:3] }, "positions"},
		{"zero divisor", func(p *Program) { p.Code[2] = Encode(DIVK, 1, 0, 0) }, "non-zero"},
		{"wrong return kind", func(p *Program) { p.Code[1] = Encode(RET0, 0, 0, 0) }, "empty return"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := good()
			c.mutate(p)
			err := p.Validate()
			if !errors.Is(err, ErrBadProgram) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want ErrBadProgram mentioning %q", err, c.want)
			}
			if _, err := New(p, Limits{}); err == nil {
				t.Fatal("New accepted an invalid program")
			}
		})
	}
}

func TestProgramRoundTrip(t *testing.T) {
	p := fibProgram(t, 10)
	b := p.MarshalBinary()
	q, err := UnmarshalProgram(b)
	if err != nil {
		t.Fatal(err)
	}
	if q.Hash() != p.Hash() {
		t.Fatal("hash changed across encoding")
	}
	for i := range b {
		if _, err := UnmarshalProgram(b[:i]); err == nil {
			t.Fatalf("truncation at %d accepted", i)
		}
	}
}

func FuzzUnmarshalProgram(f *testing.F) {
	f.Add(fibProgram(f, 10).MarshalBinary())
	f.Add(loopProgram(f, 10).MarshalBinary())
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := UnmarshalProgram(b)
		if err != nil {
			return
		}
		// A valid program runs without escaping panics or internal faults.
		iso, err := New(p, Limits{MaxSteps: 10000, MaxHeap: 1 << 20, MaxDepth: 100})
		if err != nil {
			t.Fatal(err)
		}
		for iso.Run(1000).Runnable() {
		}
		if errors.Is(iso.Err(), ErrInternal) {
			t.Fatalf("valid program hit an internal fault: %v", iso.Err())
		}
	})
}
