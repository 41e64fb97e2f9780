package lang

import (
	"errors"
	"testing"

	"github.com/knotencore/knoten/engine"
)

// Issue 12 item 3: generated code that does not validate is a compiler bug,
// and the error says so while still matching the engine's sentinel.
func TestValidateGeneratedWraps(t *testing.T) {
	err := validateGenerated("x.kn", &engine.Program{Name: "x.kn"})
	if !errors.Is(err, ErrInternal) || !errors.Is(err, engine.ErrBadProgram) {
		t.Fatalf("got %v", err)
	}
}
