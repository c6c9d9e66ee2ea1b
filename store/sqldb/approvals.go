package sqldb

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/amigo-ami/amigo/store"
)

// CountIssued implements store.HeadEnd. The parameters are stored as one
// JSON text, which the two engines query differently; the rows of one
// user's day are few, so the parameter is matched here.
func (s *DB) CountIssued(ctx context.Context, q store.IssuedQuery) (int, error) {
	query := "SELECT parameters FROM controls WHERE issued_by = ? AND created_us >= ?"
	args := []any{q.IssuedBy, q.Since.UnixMicro()}
	if q.Type != "" {
		query += " AND type = ?"
		args = append(args, string(q.Type))
	}
	rows, err := s.db.QueryContext(ctx, s.rebind(query), args...)
	if err != nil {
		return 0, fmt.Errorf("counting commands issued by %q: %w", q.IssuedBy, err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var raw string
		if err := rows.Scan(&raw); err != nil {
			return 0, err
		}
		if q.Param == "" {
			n++
			continue
		}
		var params map[string]string
		if raw != "" && raw != "null" {
			if err := json.Unmarshal([]byte(raw), &params); err != nil {
				return 0, fmt.Errorf("counting commands issued by %q: parameters: %w", q.IssuedBy, err)
			}
		}
		if v, ok := params[q.Param]; ok && v == q.Value {
			n++
		}
	}
	return n, rows.Err()
}
