// Package fuzz holds fuzz targets that span packages: properties of the
// engine, the codec and (later) the cluster together, which no single
// package can state alone. Package-local fuzz targets live beside their
// package. Run them all with `make fuzz FUZZTIME=30s`; their seed corpora
// in testdata/fuzz run as ordinary tests.
//
//   - FuzzResumeEquivalence: a workload halted after k instructions, encoded,
//     decoded and resumed, any number of times, ends with the result, output,
//     fault and state hash of a straight run. The workloads are the small
//     variants of engine/workloads, plus one program that faults.
package fuzz
