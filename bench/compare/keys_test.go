package compare

import (
	"slices"
	"testing"

	"github.com/knotencore/knoten/bench/machine"
)

// MachineKeys must name exactly the lines bench/machine writes.
func TestMachineKeysInStep(t *testing.T) {
	if !slices.Equal(MachineKeys, machine.Keys) {
		t.Errorf("compare.MachineKeys = %v, machine.Keys = %v", MachineKeys, machine.Keys)
	}
}
