package engine

import (
	"errors"
	"testing"
)

// Issue 12 item 3: every wrapped error still matches its sentinels with
// errors.Is, at each level.
func TestCheckStateWrapsSentinels(t *testing.T) {
	p, other := loopProgram(t, 100), fibProgram(t, 5)
	iso, _ := New(p, Limits{})
	iso.Run(10)
	err := CheckState(other, iso.Snapshot(), Limits{})
	if !errors.Is(err, ErrBadState) || !errors.Is(err, ErrProgramMismatch) {
		t.Fatalf("state checked against another program: %v", err)
	}
	if _, err := Resume(other, iso.Snapshot(), Limits{}); !errors.Is(err, ErrProgramMismatch) {
		t.Fatalf("Resume with another program: %v", err)
	}
	var c StateChecker
	if _, err := c.CheckResumable(other, iso.Snapshot(), Limits{}); !errors.Is(err, ErrProgramMismatch) {
		t.Fatalf("CheckResumable with another program: %v", err)
	}
}

func TestProgramErrorsWrapSentinels(t *testing.T) {
	b := loopProgram(t, 10).MarshalBinary()
	if _, err := UnmarshalProgram(b[:len(b)-3]); !errors.Is(err, ErrBadProgram) {
		t.Fatalf("truncated program: %v", err)
	}
	bad := &Program{Name: "bad.kn"}
	if err := bad.Validate(); !errors.Is(err, ErrBadProgram) {
		t.Fatalf("empty program: %v", err)
	}
}
