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

// IdentityKeys are machine lines, and not the ones that change with the
// code or the toolchain.
func TestIdentityKeysAreMachineKeys(t *testing.T) {
	for _, k := range IdentityKeys {
		if !slices.Contains(machine.Keys, k) || k == "go" || k == "commit" {
			t.Errorf("identity key %q", k)
		}
	}
}
