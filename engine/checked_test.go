package engine

import (
	"errors"
	"testing"
)

// Issue 12 item 4: ResumeChecked resumes only what a StateChecker accepted,
// once, under the program and limits it was checked against.
func TestResumeChecked(t *testing.T) {
	p := loopProgram(t, 100000)
	iso, _ := New(p, Limits{})
	iso.Run(500)
	st := iso.Snapshot()

	var zero Checked
	if _, err := ResumeChecked(&zero); !errors.Is(err, ErrBadState) {
		t.Fatalf("zero Checked: %v", err)
	}

	var c StateChecker
	bad := st.Clone()
	bad.PC = 1 << 20
	if _, err := c.CheckResumable(p, bad, Limits{}); !errors.Is(err, ErrBadState) {
		t.Fatalf("bad pc: %v", err)
	}

	limits := Limits{MaxSteps: st.Steps + 1000}
	chk, err := c.CheckResumable(p, st, limits)
	if err != nil {
		t.Fatal(err)
	}
	if chk.Program() != p || chk.State().Steps != st.Steps {
		t.Fatalf("Checked holds program %p, %d steps", chk.Program(), chk.State().Steps)
	}
	r, err := ResumeChecked(&chk)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ResumeChecked(&chk); !errors.Is(err, ErrBadState) {
		t.Fatalf("second resume of one Checked: %v", err)
	}
	// The limits it was checked under came along.
	if s := r.Run(1 << 62); s != Faulted || !errors.Is(r.Err(), ErrInstructionQuota) {
		t.Fatalf("resumed run: %s %v", s, r.Err())
	}
}
