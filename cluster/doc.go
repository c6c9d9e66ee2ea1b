// Package cluster owns a cluster on one machine, as processes: a NATS
// JetStream cluster of nats-server nodes, amigo nodes by role against one
// PostgreSQL database, and a simulated fleet. It starts them on loopback
// ports, waits until each is ready, and breaks them the ways a data
// centre does (SIGKILL, SIGSTOP and SIGCONT), for the chaos tests and the
// cluster bench. Nothing in it is needed to run a cluster in production.
package cluster
