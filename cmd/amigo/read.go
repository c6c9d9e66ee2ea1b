package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/amigo-ami/amigo/axdr"
)

func init() {
	register("read", "read a registered meter now, through a running server", cmdRead)
}

func cmdRead(args []string, stdout, stderr io.Writer) error {
	def := os.Getenv("AMIGO_SERVER")
	if def == "" {
		def = "http://127.0.0.1:8080"
	}
	fs := newFlags("read", "METER [OBIS[:ATTR]...] [flags]",
		"Asks a running amigo server to read one registered meter now, through its head-end, with the\n"+
			"meter's own keys and within the network segment's session limits. Without OBIS codes it reads\n"+
			"the meter's registers. The server's address comes from --server or AMIGO_SERVER.", stderr)
	server := fs.String("server", def, "server base `url`")
	asJSON := fs.Bool("json", false, "print the server's JSON answer")
	timeout := fs.Duration("timeout", 2*time.Minute, "give up after this `duration`")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() < 1 {
		return usageError{fmt.Errorf("which meter? give its mRID")}
	}
	base, err := serverURL(*server)
	if err != nil {
		return err
	}
	meter := fs.Arg(0)
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	raw, out, err := readMeter(ctx, base, meter, fs.Args()[1:])
	if err != nil {
		return err
	}
	if *asJSON {
		_, err := stdout.Write(append(bytes.TrimSpace(raw), '\n'))
		return err
	}
	// A profile's buffer is rows of bare values: its capture objects say
	// what each column is, and their scaler_units what it is in.
	var layouts map[string][]column
	for _, v := range out.Values {
		if isTable(v.Value) {
			layouts = profileLayouts(ctx, base, meter, out.Values)
			break
		}
	}
	fmt.Fprintf(stdout, "meter %s read at %s\n", out.Meter, out.ReadAt.Format(time.RFC3339))
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	for _, v := range out.Values {
		switch {
		case v.Error != "":
			fmt.Fprintf(tw, "%s\terror: %s\n", v.Object, v.Error)
		case isTable(v.Value):
			if err := tw.Flush(); err != nil {
				return err
			}
			if err := writeTable(stdout, v.Object, v.Value.([]any), layouts[v.Object]); err != nil {
				return err
			}
		default:
			fmt.Fprintf(tw, "%s\t%s\t%s\n", v.Object, scaled(v.Value, v.Scaler), v.Unit)
		}
	}
	return tw.Flush()
}

// readValue is one object of the server's answer to a read.
type readValue struct {
	Object string `json:"object"`
	Value  any    `json:"value"`
	Scaler int    `json:"scaler"`
	Unit   string `json:"unit"`
	Error  string `json:"error"`
}

type readAnswer struct {
	Meter  string      `json:"meter"`
	ReadAt time.Time   `json:"readAt"`
	Values []readValue `json:"values"`
}

// readMeter asks the server to read objects of a meter now.
func readMeter(ctx context.Context, base *url.URL, meter string, objects []string) ([]byte, readAnswer, error) {
	var out readAnswer
	if objects == nil {
		objects = []string{}
	}
	body, _ := json.Marshal(map[string][]string{"objects": objects})
	raw, err := callServer(ctx, base, "api/v1/meters/"+url.PathEscape(meter)+"/read", "application/json", bytes.NewReader(body))
	if err != nil {
		return nil, out, fmt.Errorf("meter %s: %w", meter, err)
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, out, fmt.Errorf("server %s: unreadable answer: %w", base.Host, err)
	}
	return raw, out, nil
}

// isTable tells a profile buffer: a list of rows, each a list of values.
func isTable(v any) bool {
	rows, ok := v.([]any)
	if !ok || len(rows) == 0 {
		return false
	}
	for _, r := range rows {
		if _, ok := r.([]any); !ok {
			return false
		}
	}
	return true
}

// column is one captured object of a profile.
type column struct {
	name   string
	scaler int
	unit   string
}

// COSEM classes whose value attribute has a scaler_unit at attribute 3.
const (
	classRegister         = 3
	classExtendedRegister = 4
	classClock            = 8
)

// profileLayouts reads the capture objects of every profile among values,
// then the scaler_unit of each captured register, in two more reads. A
// layout that cannot be read leaves its columns numbered instead.
func profileLayouts(ctx context.Context, base *url.URL, meter string, values []readValue) map[string][]column {
	var objs []string
	for _, v := range values {
		if isTable(v.Value) {
			ln, _, _ := strings.Cut(v.Object, ":")
			objs = append(objs, ln+":3")
		}
	}
	_, capt, err := readMeter(ctx, base, meter, objs)
	if err != nil {
		return nil
	}
	layouts := map[string][]column{}
	var regs []string
	for _, v := range values {
		if !isTable(v.Value) {
			continue
		}
		var cols []column
		for _, c := range capturedObjects(capt.Values, v.Object) {
			cols = append(cols, column{name: c.name})
			if c.class == classRegister || c.class == classExtendedRegister {
				regs = append(regs, c.ln+":3")
			}
		}
		layouts[v.Object] = cols
	}
	if len(regs) == 0 {
		return layouts
	}
	_, sus, err := readMeter(ctx, base, meter, regs)
	if err != nil {
		return layouts
	}
	su := map[string]readValue{}
	for _, v := range sus.Values {
		su[strings.TrimSuffix(v.Object, ":3")] = v
	}
	for obj, cols := range layouts {
		for k := range cols {
			ln, attr, _ := strings.Cut(cols[k].name, ":")
			if attr != "" && attr != "2" {
				continue
			}
			pair, ok := su[ln].Value.([]any)
			if !ok || len(pair) != 2 {
				continue
			}
			sc, ok1 := pair[0].(float64)
			u, ok2 := pair[1].(float64)
			if ok1 && ok2 {
				cols[k].scaler, cols[k].unit = int(sc), axdr.Unit(u).String()
			}
		}
		layouts[obj] = cols
	}
	return layouts
}

type captured struct {
	class int
	ln    string
	name  string
}

// capturedObjects reads the capture_objects answer of a profile:
// structure{class, logical name, attribute, data index} per column.
func capturedObjects(answer []readValue, profile string) []captured {
	ln, _, _ := strings.Cut(profile, ":")
	var list []any
	for _, a := range answer {
		if a.Object == ln+":3" && a.Error == "" {
			list, _ = a.Value.([]any)
		}
	}
	var out []captured
	for _, e := range list {
		f, ok := e.([]any)
		if !ok || len(f) < 3 {
			return nil
		}
		class, _ := f[0].(float64)
		hexLN, _ := f[1].(string)
		attr, _ := f[2].(float64)
		b, err := hex.DecodeString(hexLN)
		if err != nil || len(b) != 6 {
			return nil
		}
		c := captured{class: int(class), ln: fmt.Sprintf("%d.%d.%d.%d.%d.%d", b[0], b[1], b[2], b[3], b[4], b[5])}
		c.name = c.ln
		if attr != 2 {
			c.name += ":" + strconv.Itoa(int(attr))
		}
		if c.class == classClock {
			c.name = "time"
		}
		out = append(out, c)
	}
	return out
}

// writeTable prints a profile's rows under a header of its columns, each
// named by its object and unit; values are scaled to the unit.
func writeTable(w io.Writer, object string, rows []any, cols []column) error {
	width := 0
	for _, r := range rows {
		width = max(width, len(r.([]any)))
	}
	if len(cols) != width {
		cols = make([]column, width)
		for k := range cols {
			cols[k].name = "column " + strconv.Itoa(k+1)
		}
	}
	fmt.Fprintf(w, "\n%s: %d entries\n", object, len(rows))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	for _, c := range cols {
		h := c.name
		if c.unit != "" {
			h += " [" + c.unit + "]"
		}
		fmt.Fprint(tw, h+"\t")
	}
	fmt.Fprintln(tw)
	for _, r := range rows {
		for k, v := range r.([]any) {
			fmt.Fprint(tw, scaled(v, cols[k].scaler)+"\t")
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

// scaled renders value × 10^scaler without float noise for integers.
func scaled(v any, scaler int) string {
	f, ok := v.(float64)
	if !ok || scaler == 0 {
		if s, ok := v.(string); ok {
			return s
		}
		b, _ := json.Marshal(v)
		return string(b)
	}
	s := fmt.Sprintf("%.0f", f)
	if scaler > 0 {
		return s + strings.Repeat("0", scaler)
	}
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	for len(s) <= -scaler {
		s = "0" + s
	}
	s = s[:len(s)+scaler] + "." + s[len(s)+scaler:]
	if neg {
		s = "-" + s
	}
	return s
}

// unwrapURLError drops net/http's "Post \"url\":" prefix: the caller
// already names the server.
func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

func serverURL(s string) (*url.URL, error) {
	base, err := url.Parse(s)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, usageError{fmt.Errorf("--server %q: want http://host:port", s)}
	}
	return base, nil
}

// callServer POSTs body to a path of a running server and returns the
// answer, or the server's error message.
func callServer(ctx context.Context, base *url.URL, path, contentType string, body io.Reader) ([]byte, error) {
	return callServerMethod(ctx, base, http.MethodPost, path, contentType, body)
}

// callServerMethod calls the server's API with the token in AMIGO_TOKEN,
// and returns the body of a 2xx answer or the error message of another.
func callServerMethod(ctx context.Context, base *url.URL, method, path, contentType string, body io.Reader) ([]byte, error) {
	target := base.JoinPath(path)
	if i := strings.IndexByte(path, '?'); i >= 0 {
		target = base.JoinPath(path[:i])
		target.RawQuery = path[i+1:]
	}
	req, err := http.NewRequestWithContext(ctx, method, target.String(), body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	if tok := os.Getenv("AMIGO_TOKEN"); tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("server %s: %w", base.Host, unwrapURLError(err))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("server %s: reading the answer: %w", base.Host, err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if json.Unmarshal(raw, &e) == nil && e.Error.Message != "" {
			if e.Error.Code != "" {
				return nil, fmt.Errorf("%s (%s)", e.Error.Message, e.Error.Code)
			}
			return nil, errors.New(e.Error.Message)
		}
		return nil, fmt.Errorf("server answered %s", resp.Status)
	}
	return raw, nil
}
