//go:build race

package engine

// Under the race detector sync.Pool drops items at random, so anything that
// hashes (the state hash pools its hashers) may allocate.
const raceEnabled = true
