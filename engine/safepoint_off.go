//go:build knoten_nosafepoint

package engine

// safepoints is off in this build: isolates cannot be halted or budgeted and
// run to completion. It exists only to measure the cost of the checks.
const safepoints = false
