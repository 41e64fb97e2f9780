//go:build !knoten_nosafepoint

package engine

// safepoints enables the budget and halt checks at backward branches and
// calls. Building with -tags knoten_nosafepoint turns them off; that build
// exists only to measure what the checks cost (make safepoint-cost).
const safepoints = true
