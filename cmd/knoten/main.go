// Command knoten runs and inspects one Knoten program on one machine.
//
//	knoten run [--halt-every N] [--max-steps N] [--stats] FILE.kn
//	knoten disasm FILE.kn
//
// run prints what the program prints and then its result. With --halt-every N
// the isolate is halted at the first safepoint after every N instructions, its
// state is encoded, decoded, verified and resumed from the bytes alone, so
// the result shows that halting anywhere changes nothing. --stats adds the
// instruction count, the number of halts, the bytes snapshotted and the final
// state hash on stderr.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/knotencore/knoten/codec"
	"github.com/knotencore/knoten/engine"
	"github.com/knotencore/knoten/engine/lang"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, errUsage) {
			fmt.Fprintln(os.Stderr, "knoten:", err)
		}
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

const usage = `usage:
  knoten run [--halt-every N] [--max-steps N] [--stats] FILE.kn
  knoten disasm FILE.kn
`

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	switch args[0] {
	case "run":
		return runCmd(args[1:], stdout, stderr)
	case "disasm":
		return disasmCmd(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprintf(stderr, "knoten: unknown command %q\n%s", args[0], usage)
	return errUsage
}

func compileFile(path string) (*engine.Program, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return lang.Compile(path, src)
}

func runCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	haltEvery := fs.Int64("halt-every", 0, "halt at the first safepoint after every `N` instructions, snapshot through the codec and resume")
	maxSteps := fs.Uint64("max-steps", 0, "instruction quota (0: none)")
	stats := fs.Bool("stats", false, "print steps, halts, bytes and the final state hash on stderr")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() != 1 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	if *haltEvery < 0 {
		return fmt.Errorf("--halt-every must not be negative")
	}
	prog, err := compileFile(fs.Arg(0))
	if err != nil {
		return err
	}
	limits := engine.Limits{MaxSteps: *maxSteps}
	iso, err := engine.New(prog, limits)
	if err != nil {
		return err
	}
	budget := *haltEvery
	if budget == 0 {
		budget = 1 << 62
	}
	halts, bytes := 0, 0
	var buf []byte
	for iso.Run(budget).Runnable() {
		if *haltEvery == 0 {
			continue
		}
		// Snapshot through the wire format and resume from the bytes alone.
		halts++
		buf = codec.AppendEncode(buf[:0], codec.Meta{Isolate: 1, Epoch: uint64(halts)}, iso.State())
		bytes += len(buf)
		msg := append([]byte(nil), buf...) // the decoder takes ownership
		_, st, err := codec.Decode(msg, func([32]byte) (*engine.Program, error) { return prog, nil })
		if err != nil {
			return fmt.Errorf("halt %d: %w", halts, err)
		}
		if iso, err = engine.Resume(prog, st, limits); err != nil {
			return fmt.Errorf("halt %d: %w", halts, err)
		}
	}
	if _, err := stdout.Write(iso.Output()); err != nil {
		return err
	}
	if *stats {
		h := iso.State().Hash()
		fmt.Fprintf(stderr, "steps %d  halts %d  snapshot bytes %d  state %x\n", iso.Steps(), halts, bytes, h[:])
	}
	if err := iso.Err(); err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "result: %s\n", iso.Result())
	return err
}

func disasmCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) != 1 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	prog, err := compileFile(args[0])
	if err != nil {
		return err
	}
	return prog.Disassemble(stdout)
}
