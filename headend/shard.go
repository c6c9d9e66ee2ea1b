package headend

import "hash/fnv"

// Shards is how many parts the fleet is divided into among head-end
// nodes. A node holds the lease of some shards and reads only their
// meters; a shard is the unit a node takes over from one that died. It
// never changes once meters are collected under it: a meter's shard is
// where its cursors' reader lives.
const Shards = 64

// ShardOf is the shard of a meter: a hash of its mRID, so that shards
// are even whatever the meters are named.
func ShardOf(meterID string) int {
	f := fnv.New32a()
	f.Write([]byte(meterID))
	return int(f.Sum32() % Shards)
}

// Leases is this node's share of the fleet: which shards it holds, kept
// alive while the node is, and lost to another node within a TTL once it
// is not. The head-end reads only the meters of shards it holds, carries
// only their commands, and reads a shard it gains from its cursors.
type Leases interface {
	// Node is this node's name.
	Node() string
	// Holds reports whether this node holds shard's lease now.
	Holds(shard int) bool
	// Held lists the shards this node holds now, in order.
	Held() []int
	// Holder names the node that holds shard ("" when none does).
	Holder(shard int) string
	// Nodes is how many head-end nodes are alive, this one included.
	Nodes() int
	// Changed receives a value (it is never closed) when the shards this
	// node holds change.
	Changed() <-chan struct{}
}
