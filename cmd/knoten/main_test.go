package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/knotencore/knoten/cluster/natsnet"
	"github.com/knotencore/knoten/internal/golden"
)

// TestGolden runs the command as a user would and compares stdout, stderr and
// the error with testdata/NAME.golden.
func TestGolden(t *testing.T) {
	cases := []struct {
		name string
		args []string
	}{
		{"run", []string{"run", "testdata/sum.kn"}},
		{"run-halt-every-1", []string{"run", "--halt-every", "1", "--stats", "testdata/sum.kn"}},
		{"run-halt-every-777", []string{"run", "--halt-every", "777", "--stats", "testdata/sum.kn"}},
		{"run-fault", []string{"run", "testdata/divzero.kn"}},
		{"run-quota", []string{"run", "--max-steps", "5000", "testdata/sum.kn"}},
		{"compile-error", []string{"run", "testdata/syntax.kn"}},
		{"disasm", []string{"disasm", "testdata/sum.kn"}},
		{"usage", nil},
		{"unknown", []string{"frobnicate"}},
		{"missing-file", []string{"run", "testdata/nope.kn"}},
		{"run-void", []string{"run", "testdata/void.kn"}},
		{"run-help", []string{"run", "--help"}},
		{"disasm-help", []string{"disasm", "--help"}},
		{"help", []string{"--help"}},
		{"run-flag-after-file", []string{"run", "testdata/sum.kn", "--max-steps", "5000"}},
		{"run-dashdash", []string{"run", "--max-steps", "5000", "--", "testdata/sum.kn"}},
		{"run-two-files", []string{"run", "testdata/sum.kn", "testdata/void.kn"}},
		{"run-no-file", []string{"run", "--stats"}},
		{"run-bad-flag", []string{"run", "--nope", "testdata/sum.kn"}},
		{"run-negative-halt-every", []string{"run", "--halt-every", "-1", "testdata/sum.kn"}},
		{"disasm-two-files", []string{"disasm", "testdata/sum.kn", "testdata/void.kn"}},
		{"nats-help", []string{"nats", "--help"}},
		{"nats-extra-arg", []string{"nats", "somewhere"}},
		{"nats-bad-listen", []string{"nats", "--listen", "4222"}},
		{"nats-listen-bad-port", []string{"nats", "--listen", "127.0.0.1:70000"}},
		{"nats-members-without-auth", []string{"nats", "--members", "2"}},
		{"nats-tls-without-auth", []string{"nats", "--tls"}},
		{"nats-auth-without-members", []string{"nats", "--auth", "$TMP/auth"}},
		{"nats-too-many-members", []string{"nats", "--auth", "$TMP/auth", "--members", "65"}},
		{"nats-auth-bad-cluster", []string{"nats", "--auth", "$TMP/auth", "--members", "1", "--cluster", "a.b"}},
		{"nats-auth-misplaced", []string{"nats", "--listen", "127.0.0.1:0", "--auth", "$TMP/misplaced", "--members", "1"}},
		{"node-help", []string{"node", "--help"}},
		{"node-no-nats", []string{"node", "--name", "alpha"}},
		{"node-embedded-and-nats", []string{"node", "--embedded", "--nats", "nats://127.0.0.1:1"}},
		{"node-store-without-embedded", []string{"node", "--nats", "nats://127.0.0.1:1", "--store", "dir"}},
		{"node-id-gone", []string{"node", "--nats", "nats://127.0.0.1:1", "--id", "3"}},
		{"migrate-three-args", []string{"migrate", "--nats", "nats://127.0.0.1:1", "0-1", "beta", "gamma"}},
		{"node-zero-workers", []string{"node", "--nats", "nats://127.0.0.1:1", "--workers", "0"}},
		{"node-missing-creds", []string{"node", "--nats", "nats://127.0.0.1:1", "--creds", "testdata/nope.creds"}},
		{"node-listen-without-embedded", []string{"node", "--nats", "nats://127.0.0.1:1", "--listen", "127.0.0.1:0"}},
		{"node-embedded-creds", []string{"node", "--embedded", "--creds", "$TMP/n0.creds"}},
		{"node-client-creds", []string{"node", "--nats", "nats://127.0.0.1:1", "--creds", "$TMP/client.creds"}},
		{"node-seed-file", []string{"node", "--nats", "nats://127.0.0.1:1", "--creds", "$TMP/old.seed"}},
		{"node-bad-max-steps", []string{"node", "--nats", "nats://127.0.0.1:1", "--max-steps", "-1"}},
		{"node-missing-ca", []string{"node", "--nats", "nats://127.0.0.1:1", "--ca", "testdata/nope.pem"}},
		{"node-bad-listen", []string{"node", "--embedded", "--listen", "localhost"}},
		{"node-unreachable", []string{"node", "--nats", "nats://127.0.0.1:1"}},
		{"node-bad-cluster", []string{"node", "--nats", "nats://127.0.0.1:1", "--cluster", "a.b"}},
		{"submit-help", []string{"submit", "--help"}},
		{"submit-no-nats", []string{"submit", "testdata/sum.kn"}},
		{"submit-no-file", []string{"submit", "--nats", "nats://127.0.0.1:1"}},
		{"submit-compile-error", []string{"submit", "--nats", "nats://127.0.0.1:1", "testdata/syntax.kn"}},
		{"submit-unreachable", []string{"submit", "--nats", "nats://127.0.0.1:1", "testdata/sum.kn"}},
		{"submit-zero-timeout", []string{"submit", "--nats", "nats://127.0.0.1:1", "--timeout", "0s", "testdata/sum.kn"}},
		{"ps-help", []string{"ps", "--help"}},
		{"ps-extra-arg", []string{"ps", "--nats", "nats://127.0.0.1:1", "all"}},
		{"ps-missing-creds", []string{"ps", "--nats", "nats://127.0.0.1:1", "--creds", "testdata/nope.creds"}},
		{"ps-bad-ca", []string{"ps", "--nats", "nats://127.0.0.1:1", "--ca", "testdata/sum.kn"}},
		{"submit-member-creds", []string{"submit", "--nats", "nats://127.0.0.1:1", "--creds", "$TMP/n0.creds", "testdata/sum.kn"}},
		{"migrate-help", []string{"migrate", "--help"}},
		{"migrate-one-arg", []string{"migrate", "--nats", "nats://127.0.0.1:1", "0-1"}},
		{"migrate-bad-id", []string{"migrate", "--nats", "nats://127.0.0.1:1", "first", "beta"}},
		{"drain-help", []string{"drain", "--help"}},
		{"drain-no-node", []string{"drain", "--nats", "nats://127.0.0.1:1"}},
	}
	tmp := credsFiles(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := make([]string, len(c.args))
			for i, a := range c.args {
				args[i] = strings.ReplaceAll(a, "$TMP", tmp)
			}
			var stdout, stderr bytes.Buffer
			err := run(args, &stdout, &stderr)
			got := fmt.Sprintf("$ knoten %q\n-- stdout --\n%s-- stderr --\n%s-- error --\n%v\n", c.args, stdout.String(), stderr.String(), err)
			got = strings.ReplaceAll(got, tmp, "$TMP")
			golden.Check(t, filepath.Join("testdata", c.name+".golden"), []byte(got))
		})
	}
}

// credsFiles makes, in a directory of the test's, a node's credentials
// (n0.creds), a client's (client.creds), a bare seed (old.seed), and an
// --auth directory whose n0.creds is a client's (misplaced), and returns
// the directory: the golden files show it as $TMP. Keys are made afresh,
// never kept in testdata.
func credsFiles(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	node, err := natsnet.NewMember(0)
	if err != nil {
		t.Fatal(err)
	}
	client, err := natsnet.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "misplaced"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{
		node.WriteCreds(filepath.Join(dir, "n0.creds")),
		client.WriteCreds(filepath.Join(dir, "client.creds")),
		node.WriteSeedFile(filepath.Join(dir, "old.seed")),
		client.WriteCreds(filepath.Join(dir, "misplaced", "n0.creds")),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// Halting every N instructions must not change the output, the result or the
// final state hash.
func TestHaltEveryKeepsStateHash(t *testing.T) {
	hashRE := regexp.MustCompile(`state ([0-9a-f]{64})`)
	var want string
	for _, n := range []string{"0", "1", "3", "1000"} {
		var stdout, stderr bytes.Buffer
		if err := run([]string{"run", "--stats", "--halt-every", n, "testdata/sum.kn"}, &stdout, &stderr); err != nil {
			t.Fatal(err)
		}
		m := hashRE.FindStringSubmatch(stderr.String())
		if m == nil {
			t.Fatalf("no state hash in %q", stderr.String())
		}
		// The sum of the squares below 2000, computed here rather than trusted.
		sum := 0
		for i := 0; i < 2000; i++ {
			sum += i * i
		}
		if !strings.HasSuffix(stdout.String(), fmt.Sprintf("result: %d\n", sum)) {
			t.Fatalf("--halt-every %s: output %q does not end in result %d", n, stdout.String(), sum)
		}
		got := stdout.String() + m[1]
		if want == "" {
			want = got
		} else if got != want {
			t.Fatalf("--halt-every %s: got %q, want %q", n, got, want)
		}
	}
}

// recorder is an io.Writer that keeps every write apart, and calls onWrite
// after each.
type recorder struct {
	writes  []string
	onWrite func()
}

func (r *recorder) Write(p []byte) (int, error) {
	r.writes = append(r.writes, string(p))
	if r.onWrite != nil {
		r.onWrite()
	}
	return len(p), nil
}

// Item 12: output streams: a program that prints over several slices
// reaches stdout in several writes, the result line last.
func TestRunStreamsOutput(t *testing.T) {
	var rec recorder
	var stderr bytes.Buffer
	if err := run([]string{"run", "testdata/printer.kn"}, &rec, &stderr); err != nil {
		t.Fatal(err)
	}
	n := len(rec.writes)
	if n < 3 {
		t.Fatalf("%d writes, want the output in several and then the result: %q", n, rec.writes)
	}
	if !strings.HasPrefix(rec.writes[n-1], "result: ") || strings.Contains(strings.Join(rec.writes[:n-1], ""), "result") {
		t.Fatalf("the result is not alone in the last write: %q", rec.writes[n-1])
	}
	if lines := strings.Count(strings.Join(rec.writes, ""), "\n"); lines != 301 {
		t.Fatalf("%d lines, want 300 and the result", lines)
	}
}

// Item 12: an interrupt halts the program; what it printed is written, and
// the run fails saying so. The interrupt comes with the first write, so the
// program is running when it comes.
func TestRunInterrupt(t *testing.T) {
	for _, args := range [][]string{
		{"run", "testdata/endless-printer.kn"},
		{"run", "--halt-every", "100000", "testdata/endless-printer.kn"},
	} {
		ctx, cancel := context.WithCancel(context.Background())
		rec := recorder{onWrite: cancel}
		err := runContext(ctx, args, &rec, &bytes.Buffer{})
		cancel()
		if err == nil || !strings.HasPrefix(err.Error(), "interrupted after ") {
			t.Fatalf("%q: error %v", args, err)
		}
		out := strings.Join(rec.writes, "")
		if !strings.HasPrefix(out, "0\n1\n2\n") || strings.Contains(out, "result") {
			t.Fatalf("%q: output %.40q...", args, out)
		}
	}
}

// Item 12: run handles a real SIGINT: it halts the program and fails
// instead of dying with the output unwritten.
func TestRunSIGINT(t *testing.T) {
	self, err := os.FindProcess(os.Getpid())
	if err != nil {
		t.Skip(err)
	}
	var sent error
	rec := recorder{}
	rec.onWrite = func() {
		if len(rec.writes) == 1 {
			sent = self.Signal(os.Interrupt)
		}
	}
	err = run([]string{"run", "testdata/endless-printer.kn"}, &rec, &bytes.Buffer{})
	if sent != nil {
		t.Skipf("cannot send SIGINT: %v", sent)
	}
	if err == nil || !strings.HasPrefix(err.Error(), "interrupted after ") || len(rec.writes) == 0 {
		t.Fatalf("error %v after %d writes", err, len(rec.writes))
	}
}

// Item 12: run has a default instruction quota, so a program that never
// ends stops by itself; --max-steps 0 lifts it.
func TestRunDefaultMaxSteps(t *testing.T) {
	var stdout bytes.Buffer
	if err := run([]string{"run", "--help"}, &stdout, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), fmt.Sprintf("(default %d)", uint64(defaultMaxSteps))) {
		t.Fatalf("--help shows no default quota:\n%s", stdout.String())
	}
	err := run([]string{"run", "--max-steps", "100000", "testdata/endless.kn"}, &stdout, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "instruction quota exceeded") {
		t.Fatalf("error %v", err)
	}
}
