package billing

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/amigo-ami/amigo/store"
)

// ParseAccounts reads accounts as CSV: id,usage_point,group,cycle_day, an
// optional header line first (its first field "id"). A bad line is an
// error naming it; nothing of a file with one is taken.
func ParseAccounts(r io.Reader) ([]store.Account, error) {
	var out []store.Account
	err := readCSV(r, 4, "id", func(f []string) error {
		day, err := strconv.Atoi(strings.TrimSpace(f[3]))
		if err != nil || day < 1 || day > 28 {
			return fmt.Errorf("cycle day %q: want 1..28", f[3])
		}
		if f[0] == "" || f[1] == "" {
			return errors.New("an account id and a usage point are required")
		}
		out = append(out, store.Account{ID: f[0], UsagePointID: f[1], Group: f[2], CycleDay: day})
		return nil
	})
	return out, err
}

// ParsePrices reads a dynamic price feed as CSV: time,price, the time the
// start of an hour in RFC 3339 and the price an integer in millionths of
// the currency per kWh, an optional header line first (its first field
// "time").
func ParsePrices(feed string, r io.Reader) ([]store.HourPrice, error) {
	var out []store.HourPrice
	err := readCSV(r, 2, "time", func(f []string) error {
		at, err := time.Parse(time.RFC3339, strings.TrimSpace(f[0]))
		if err != nil {
			return fmt.Errorf("time %q: want RFC 3339", f[0])
		}
		if !at.Equal(at.Truncate(time.Hour)) {
			return fmt.Errorf("time %q is not the start of an hour", f[0])
		}
		price, err := strconv.ParseInt(strings.TrimSpace(f[1]), 10, 64)
		if err != nil {
			return fmt.Errorf("price %q: want an integer (millionths per kWh)", f[1])
		}
		out = append(out, store.HourPrice{Feed: feed, At: at.UTC(), Price: price})
		return nil
	})
	return out, err
}

// readCSV hands each row of n fields to row, skipping a header row whose
// first field is header.
func readCSV(r io.Reader, n int, header string, row func(f []string) error) error {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = n
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = true
	for first := true; ; first = false {
		f, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("csv: %w", err)
		}
		line, _ := cr.FieldPos(0)
		if first && strings.EqualFold(strings.TrimSpace(f[0]), header) {
			continue
		}
		if err := row(f); err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
	}
}
