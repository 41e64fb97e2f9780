package engine

import (
	"errors"
	"reflect"
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
	if chk.Program() != p || chk.Steps() != st.Steps || chk.PC() != st.PC || chk.ProgramHash() != p.Hash() {
		t.Fatalf("Checked holds program %p, %d steps, pc %d", chk.Program(), chk.Steps(), chk.PC())
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

// A copy of a Checked is the same one-shot token: ck2 := ck used to resume
// twice, two isolates writing into the same decode buffer. Whichever copy
// resumes first wins; every other copy fails, and so does a Checked that a
// later CheckResumable of the same checker has voided.
func TestCheckedCopyResumesOnce(t *testing.T) {
	p := garbageProgram(t, 2000)
	iso, _ := New(p, Limits{})
	iso.Run(3000)
	st := iso.Snapshot()

	var c StateChecker
	for _, copyFirst := range []bool{false, true} {
		ck, err := c.CheckResumable(p, st.Clone(), Limits{})
		if err != nil {
			t.Fatal(err)
		}
		ck2 := ck
		first, second := &ck, &ck2
		if copyFirst {
			first, second = second, first
		}
		if _, err := ResumeChecked(first); err != nil {
			t.Fatalf("copyFirst=%v: first resume: %v", copyFirst, err)
		}
		if r, err := ResumeChecked(second); !errors.Is(err, ErrBadState) || r != nil {
			t.Fatalf("copyFirst=%v: the other copy resumed too: %v", copyFirst, err)
		}
		if first.Program() != nil || second.Program() != nil {
			t.Fatalf("copyFirst=%v: a resumed Checked still offers its program", copyFirst)
		}
		if first.Steps() != st.Steps || second.PC() != st.PC {
			t.Fatalf("copyFirst=%v: scalars changed by the resume", copyFirst)
		}
	}

	old, err := c.CheckResumable(p, st.Clone(), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	cur, err := c.CheckResumable(p, st.Clone(), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ResumeChecked(&old); !errors.Is(err, ErrBadState) {
		t.Fatalf("a Checked voided by a later check resumed: %v", err)
	}
	if _, err := ResumeChecked(&cur); err != nil {
		t.Fatalf("the latest Checked: %v", err)
	}
	// A failed check voids the outstanding token too.
	next, _ := c.CheckResumable(p, st.Clone(), Limits{})
	bad := st.Clone()
	bad.PC = 1 << 20
	if _, err := c.CheckResumable(p, bad, Limits{}); err == nil {
		t.Fatal("bad pc passed")
	}
	if _, err := ResumeChecked(&next); !errors.Is(err, ErrBadState) {
		t.Fatalf("a Checked voided by a failed check resumed: %v", err)
	}
}

// A Checked exposes no memory of the checked state: State() used to return
// a *State into the proof, through which HeapCap could be raised past the
// quota or a frame pointed at a function that does not exist, after the
// check. Every exported method must return plain scalars (the program is
// immutable once validated).
func TestCheckedExposesNoState(t *testing.T) {
	typ := reflect.TypeFor[*Checked]()
	for i := range typ.NumMethod() {
		m := typ.Method(i)
		for j := range m.Type.NumOut() {
			out := m.Type.Out(j)
			switch out.Kind() {
			case reflect.Pointer:
				if out != reflect.TypeFor[*Program]() {
					t.Errorf("Checked.%s returns %s", m.Name, out)
				}
			case reflect.Slice, reflect.Map, reflect.Interface, reflect.Struct, reflect.UnsafePointer, reflect.Func, reflect.Chan:
				t.Errorf("Checked.%s returns %s", m.Name, out)
			}
		}
	}
}

// A frame record corrupted after the check (the decode buffer a resumed
// state aliases, modified against its contract) must not crash the
// process: Run's recover used to index the function table by the corrupt
// frame's Fn to refresh its views, panicking again, out of Run.
func TestRunRecoversFromCorruptFrames(t *testing.T) {
	p := garbageProgram(t, 2000)
	iso, _ := New(p, Limits{})
	iso.Run(3000)
	for _, corrupt := range []func(fr *Frame){
		func(fr *Frame) { fr.Fn = 1 << 20 },
		func(fr *Frame) { *fr = Frame{Fn: ^uint32(0), Base: ^uint32(0), RetPC: ^uint32(0), RetReg: ^uint32(0)} },
		func(fr *Frame) { fr.Base = 1 << 30 },
	} {
		st := iso.Snapshot()
		var c StateChecker
		ck, err := c.CheckResumable(p, st, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		corrupt(&st.Frames[len(st.Frames)-1]) // the memory the Checked aliases
		r, err := ResumeChecked(&ck)
		if err != nil {
			t.Fatal(err)
		}
		func() {
			defer func() {
				if x := recover(); x != nil {
					t.Fatalf("a Go panic escaped: %v", x)
				}
			}()
			if s := r.Run(1 << 20); s != Faulted || !errors.Is(r.Err(), ErrInternal) {
				t.Fatalf("run: %s %v", s, r.Err())
			}
			_ = r.State().Hash()
			_ = r.Snapshot()
			_ = r.Result()
			_ = r.Footprint()
		}()
	}
}
