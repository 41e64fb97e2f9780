package cluster

import (
	"testing"
	"time"
)

// bigSource keeps 64 Ki ints (512 KiB of heap) and finishes: a hop of it
// is an OFFER of about 544 KB.
const bigSource = `func main() int {
	a := make([]int, 65536)
	for i := 0; i < len(a); i++ {
		a[i] = i * 7
	}
	s := 0
	for r := 0; r < 2; r++ {
		for i := 0; i < len(a); i++ {
			s = (s + a[i]) % 1000003
		}
	}
	return s
}
`

// TestSimSlowLinkResends (issue 12, item 8): one hop of a 544 KB state
// over a 1 MB/s link. The OFFER takes about 0.55 s to transmit; resending
// it every RTO (about 130 ms) queued copy after copy behind it on the busy
// link (10 copies, 5.47 MB). With backoff from the end of the previous
// copy's transmission, at most a few copies go out, and the isolate still
// completes exactly once, with its straight-run result.
func TestSimSlowLinkResends(t *testing.T) {
	p, err := compileTestProg("big", []byte(bigSource))
	if err != nil {
		t.Fatal(err)
	}
	for _, link := range []LinkConfig{
		{Bandwidth: 1e6, Latency: time.Millisecond},
		{Bandwidth: 1e6, Latency: time.Millisecond, Jitter: time.Millisecond, Loss: 0.05},
	} {
		for seed := uint64(1); seed <= 4; seed++ {
			s := NewSim(Config{Nodes: 2, Seed: seed, Link: link})
			id, err := s.Spawn(0, p.prog)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.MigrateAt(id, 1, p.steps*2/3); err != nil {
				t.Fatal(err)
			}
			if !s.Run(time.Minute) {
				t.Fatalf("%+v seed %d: did not settle", link, seed)
			}
			checkOutcome(t, s.Outcome(), map[IsolateID]*testProg{id: p}, false)
			st := s.nodes[0].core.proto.stats
			copies := st.Offers + st.Resends
			if where, _ := s.Where(id); s.Metrics().Snapshot().Migrations != 1 {
				t.Fatalf("%+v seed %d: %d migrations, isolate last on %v", link, seed, s.Metrics().Snapshot().Migrations, where)
			}
			limit := int64(2)
			if link.Loss > 0 {
				limit = 4
			}
			if copies > limit {
				t.Fatalf("%+v seed %d: %d copies of the OFFER (and ABORTs) sent, want at most %d; net %+v", link, seed, copies, limit, s.Net().Stats())
			}
			t.Logf("%+v seed %d: %d copies, %d bytes on the network", link, seed, copies, s.Net().Stats().Bytes)
		}
	}
}
