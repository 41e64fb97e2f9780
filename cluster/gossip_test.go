package cluster

import (
	"testing"
	"time"
)

// idlePool is a pool with nothing in it.
type idlePool struct{}

func (idlePool) inject(*task)           {}
func (idlePool) takeQueued(int) []*task { return nil }
func (idlePool) load() Load             { return Load{Idle: 1} }
func (idlePool) requestMove(*task)      {}

// TestGossipRateIndependentOfClusterSize: a heartbeat goes to gossipFanout
// peers whatever the cluster's size, never to a down one, and over many
// heartbeats it reaches most of the cluster.
func TestGossipRateIndependentOfClusterSize(t *testing.T) {
	for _, n := range []int{2, 3, 16, 256} {
		cfg := Config{Nodes: n}.withDefaults()
		sent := map[NodeID]int{}
		msgs := 0
		c := newNodeCore(0, n, &cfg, func(to NodeID, _ []byte) { sent[to]++; msgs++ }, idlePool{}, newCollector(NewMetrics(), func() time.Duration { return 0 }, nil))
		if n > 2 {
			c.peerDown(1)
		}
		const beats = 400
		for i := 0; i < beats; i++ {
			c.beat()
		}
		live := n - 1
		if n > 2 {
			live--
		}
		if want := beats * min(gossipFanout, live); msgs != want {
			t.Errorf("%d nodes: %d messages in %d heartbeats, want %d", n, msgs, beats, want)
		}
		if n > 2 && sent[1] > 0 {
			t.Errorf("%d nodes: %d heartbeats to a down node", n, sent[1])
		}
		if sent[0] > 0 {
			t.Errorf("%d nodes: heartbeats to itself", n)
		}
		if reached := len(sent); reached < min(live, beats*gossipFanout)*9/10 {
			t.Errorf("%d nodes: heartbeats reached only %d of %d live peers", n, reached, live)
		}
	}
}
