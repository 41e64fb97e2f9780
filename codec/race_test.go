//go:build race

package codec_test

// Under the race detector sync.Pool drops items at random, so anything that
// hashes (engine.State.Hash pools its hasher) may allocate.
const raceEnabled = true
