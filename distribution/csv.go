package distribution

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
)

// CSVHeader is the topology file's header: one row per service, the
// devices above it and where it is.
var CSVHeader = []string{"usage_point", "transformer", "feeder", "substation", "region", "lat", "lon", "phase", "distance_m", "transformer_distance_m"}

// WriteCSV writes the tree as the topology file a utility would load: a
// header, then one row per service in meter order.
func (n *Network) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return fmt.Errorf("distribution: writing the topology: %w", err)
	}
	rec := make([]string, len(CSVHeader))
	for i, s := range n.servs {
		id := uint64(i) + 1
		tr := &n.trans[s.trans]
		fd := &n.feeds[tr.feeder]
		rec[0], rec[1], rec[2], rec[3], rec[4] = UsagePoint(id), tr.id, fd.id, n.subs[fd.sub].id, region(id)
		rec[5] = strconv.FormatFloat(s.lat, 'f', 6, 64)
		rec[6] = strconv.FormatFloat(s.lon, 'f', 6, 64)
		rec[7] = strconv.Itoa(s.phase)
		rec[8] = strconv.Itoa(s.distM)
		rec[9] = strconv.Itoa(tr.distM)
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("distribution: writing the topology at %s: %w", rec[0], err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("distribution: writing the topology: %w", err)
	}
	return nil
}
