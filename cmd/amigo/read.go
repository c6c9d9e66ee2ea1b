package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"
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
	body, _ := json.Marshal(map[string][]string{"objects": fs.Args()[1:]})
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	raw, err := callServer(ctx, base, "api/v1/meters/"+url.PathEscape(meter)+"/read", "application/json", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("meter %s: %w", meter, err)
	}
	if *asJSON {
		_, err := stdout.Write(append(bytes.TrimSpace(raw), '\n'))
		return err
	}
	var out struct {
		Meter  string    `json:"meter"`
		ReadAt time.Time `json:"readAt"`
		Values []struct {
			Object string `json:"object"`
			Value  any    `json:"value"`
			Scaler int    `json:"scaler"`
			Unit   string `json:"unit"`
			Error  string `json:"error"`
		} `json:"values"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return fmt.Errorf("server %s: unreadable answer: %w", base.Host, err)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "meter %s read at %s\n", out.Meter, out.ReadAt.Format(time.RFC3339))
	for _, v := range out.Values {
		if v.Error != "" {
			fmt.Fprintf(tw, "%s\terror: %s\n", v.Object, v.Error)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", v.Object, scaled(v.Value, v.Scaler), v.Unit)
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
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base.JoinPath(path).String(), body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", contentType)
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
			return nil, errors.New(e.Error.Message)
		}
		return nil, fmt.Errorf("server answered %s", resp.Status)
	}
	return raw, nil
}
