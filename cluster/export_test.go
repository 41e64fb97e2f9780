package cluster

import "testing"

// This file hands internals to the external test package cluster_test,
// whose tests import cluster/loadgen (which imports cluster, so package
// cluster's own tests cannot).

// MakespanRun is makespanRun without its Sim: makespan ÷ ideal for n
// isolates spawned on node 0 of a 4-node, 1-worker Sim.
func MakespanRun(tb testing.TB, n int, noSteal bool) float64 {
	r, _ := makespanRun(tb, n, noSteal)
	return r
}
