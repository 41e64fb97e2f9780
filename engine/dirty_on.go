//go:build !knoten_nodirty

package engine

// dirtyTracking enables marking the heap pages each instruction writes, for
// pre-copy migration and the incremental state hash. Building with -tags
// knoten_nodirty turns it off (every sync then treats every page as dirty);
// that build exists only to measure what the marking costs (make
// dirty-cost).
const dirtyTracking = true
