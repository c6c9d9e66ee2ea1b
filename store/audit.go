package store

import (
	"context"

	"github.com/amigo-ami/amigo/audit"
)

// AuditLog keeps the hash-chained audit trail (audit.Store).
type AuditLog interface {
	// AppendAudit appends r after the last record in one transaction: it
	// sets r.Seq to the next seq and r.Prev to the last record's hash,
	// calls seal, and inserts r; when another writer took that seq first
	// (several nodes on one database), it starts again.
	AppendAudit(ctx context.Context, r audit.Record, seal func(*audit.Record)) (audit.Record, error)
	// AuditRecords lists records by q (ascending seq, or newest first).
	AuditRecords(ctx context.Context, q audit.Query) ([]audit.Record, error)
}
