package lang

import (
	"fmt"
	"runtime/debug"

	"github.com/knotencore/knoten/engine"
)

// Compile compiles the Knoten source file src, named filename in positions
// and errors, into a validated program. A program that does not compile
// yields an ErrorList with the first MaxErrors errors in source order.
// Compile never panics; an error wrapping ErrInternal means a compiler bug.
func Compile(filename string, src []byte) (prog *engine.Program, err error) {
	errs := &errorSink{file: filename, perLine: true}
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(bailout); !ok {
				prog, err = nil, fmt.Errorf("%w: %s: %v\n%s", ErrInternal, filename, r, debug.Stack())
				return
			}
			prog, err = nil, errs.sorted()
		}
	}()
	f := parse(filename, src, errs)
	if len(errs.list) > 0 {
		return nil, errs.sorted()
	}
	errs.perLine = false
	c := check(f, errs)
	if len(errs.list) > 0 {
		return nil, errs.sorted()
	}
	prog = generate(filename, c)
	if len(errs.list) > 0 {
		return nil, errs.sorted()
	}
	if err := validateGenerated(filename, prog); err != nil {
		return nil, err
	}
	return prog, nil
}

// validateGenerated validates what the code generator made. A failure is a
// compiler bug: the error wraps both ErrInternal and the engine's error
// (engine.ErrBadProgram).
func validateGenerated(filename string, prog *engine.Program) error {
	if err := prog.Validate(); err != nil {
		return fmt.Errorf("%w: %s: generated code does not validate: %w", ErrInternal, filename, err)
	}
	return nil
}

func (s *errorSink) sorted() ErrorList {
	l := append(ErrorList(nil), s.list...)
	l.sort()
	return l
}
