package cluster

import "sort"

// Audit is the account of every isolate of a stopped cluster.
type Audit struct {
	Outcome    *Outcome
	Held       []IsolateID // not completed, still held by a live node (parked or not)
	Lost       []IsolateID // not completed, held by no live node, and no crash explains it
	Duplicated []IsolateID // completed more than once, completed and still held, or running on two live nodes
}

// Audit accounts for every isolate. Call it after Close: it reads the
// stopped nodes' registries directly.
func (c *Cluster) Audit() *Audit {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if !closed {
		panic("cluster: Audit before Close")
	}
	o := c.col.outcome()
	a := &Audit{Outcome: o, Duplicated: o.Duplicated}
	running := map[IsolateID]int{}
	held := map[IsolateID]bool{}
	for _, n := range c.localNodes() {
		if n.core.stopped { // crashed
			continue
		}
		for id, t := range n.core.tasks {
			held[id] = true
			if !t.parked {
				running[id]++
			}
		}
	}
	done := map[IsolateID]bool{}
	for _, comp := range o.Completed {
		done[comp.ID] = true
	}
	crash := map[IsolateID]bool{}
	for _, id := range o.CrashLost {
		crash[id] = true
	}
	for id := range held {
		if done[id] || running[id] > 1 {
			a.Duplicated = append(a.Duplicated, id)
		}
	}
	for _, id := range o.Missing {
		switch {
		case held[id]:
			a.Held = append(a.Held, id)
		case !crash[id]:
			a.Lost = append(a.Lost, id)
		}
	}
	for _, l := range [][]IsolateID{a.Held, a.Lost, a.Duplicated} {
		sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
	}
	return a
}
