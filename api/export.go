package api

import (
	"fmt"
	"io"
	"net/http"

	"github.com/amigo-ami/amigo/greenbutton"
)

// exportUsagePoint hands a household its own interval data, as Green
// Button (ESPI XML) or CSV, for a period of at most a year and a month.
func (a *API) exportUsagePoint(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if !knownParams(w, q, "format", "from", "to") {
		return
	}
	format := q.Get("format")
	if format != "espi" && format != "csv" {
		Error(w, http.StatusBadRequest, "bad_query", "format must be espi (Green Button XML) or csv")
		return
	}
	from, to, ok := dateRange(w, q, 400, "400 days later")
	if !ok {
		return
	}
	e, err := a.portal.Export(r.Context(), r.PathValue("id"), from, to)
	if !a.householdOK(w, r, err) {
		return
	}
	up := e.UsagePoint
	e.Updated, e.Self = a.now(), "/api/v1/usage-points/"+up.MRID
	name := fmt.Sprintf("amigo-%s-%s-%s", up.MRID, from, to)
	cw := &countingWriter{w: w}
	w.Header().Set("Cache-Control", "no-store")
	if format == "csv" {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.csv"`)
		err = greenbutton.WriteCSV(cw, e)
	} else {
		w.Header().Set("Content-Type", "application/atom+xml")
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.xml"`)
		err = greenbutton.WriteXML(cw, e)
	}
	switch {
	case err != nil && cw.n == 0:
		// The encoders check everything before writing: the stored data
		// cannot be exported as it is, and the answer can still say so.
		w.Header().Del("Content-Disposition")
		a.d.Logger.Error("export", "usage_point", up.MRID, "format", format, "err", err)
		Error(w, http.StatusInternalServerError, "export_failed", "the stored data cannot be exported: "+err.Error())
	case err != nil:
		// Half sent: the truncated body and the log say it.
		a.d.Logger.Error("export", "usage_point", up.MRID, "format", format, "err", err)
	}
}

// countingWriter tells whether anything reached the client.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
