//go:build !race

package queue

// raceEnabled scales the stress tests down under the race detector, which
// slows the deque's atomics by an order of magnitude.
const raceEnabled = false
