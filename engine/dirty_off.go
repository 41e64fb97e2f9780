//go:build knoten_nodirty

package engine

// dirtyTracking is off in this build: nothing is marked, and every sync
// treats every page as dirty. It exists only to measure the cost of the
// marking.
const dirtyTracking = false
