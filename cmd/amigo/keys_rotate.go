package main

import (
	"bufio"
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
	"time"
	"unicode/utf8"
)

func init() {
	register("keys", "change meters' keys in the field: rotate creates a key-rotation campaign", cmdKeys)
}

func cmdKeys(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "rotate" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprintln(stdout, "Usage: amigo keys rotate [flags]\n\nRun amigo keys rotate --help for its flags.")
			return nil
		}
		return usageError{errors.New("want: amigo keys rotate [flags]")}
	}
	return cmdKeysRotate(args[1:], stdout, stderr)
}

// cmdKeysRotate creates a campaign that gives each meter new global keys
// (DLMS key_transfer under the meter's master key), staged and confirmed
// meter by meter. The campaign waits for a second person's approval.
func cmdKeysRotate(args []string, stdout, stderr io.Writer) error {
	def := os.Getenv("AMIGO_SERVER")
	if def == "" {
		def = "http://127.0.0.1:8080"
	}
	fs := newFlags("keys rotate", "(--meters FILE | --segment S) [flags]",
		"Creates a key-rotation campaign on a running server: every meter named (one mRID a line in FILE,\n"+
			"# starts a comment) or registered in segment S gets new global encryption and authentication\n"+
			"keys, wrapped under its master key, then confirmed by an association under the new keys. The\n"+
			"campaign starts when a second person approves it; the pilot meters go first. The server's\n"+
			"address comes from --server or AMIGO_SERVER, the token from AMIGO_TOKEN.", stderr)
	server := fs.String("server", def, "server base `url`")
	metersFile := fs.String("meters", "", "`file` of meter mRIDs, one a line")
	segment := fs.String("segment", "", "rotate every meter of network `segment`")
	name := fs.String("name", "", "campaign `name` (default: key rotation and the date)")
	pilot := fs.Int("pilot", 0, "the first `n` meters form the pilot, which must pass before the rest start")
	maxFail := fs.Float64("max-failure-rate", 0.05, "stop the campaign when more than this `fraction` of finished meters failed")
	minFinished := fs.Int("min-finished", 20, "judge the failure rate only after `n` meters finished")
	concurrency := fs.Int("concurrency", 0, "meters in flight (0: the engine's default; the head-end's session limits apply too)")
	timeout := fs.Duration("timeout", time.Minute, "give up after this `duration`")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	if (*metersFile == "") == (*segment == "") {
		return usageError{errors.New("give either --meters FILE or --segment S")}
	}
	if *maxFail < 0 || *maxFail > 1 {
		return usageError{fmt.Errorf("--max-failure-rate %v: want a fraction in [0, 1]", *maxFail)}
	}
	if *pilot < 0 || *minFinished < 0 || *concurrency < 0 {
		return usageError{errors.New("--pilot, --min-finished and --concurrency are counts: want 0 or more")}
	}
	base, err := serverURL(*server)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	var meters []string
	if *metersFile != "" {
		if meters, err = readMeterList(*metersFile); err != nil {
			return err
		}
	} else if meters, err = segmentMeters(ctx, base, *segment); err != nil {
		return err
	}
	if len(meters) == 0 {
		return errors.New("no meters to rotate")
	}
	if *name == "" {
		*name = "key rotation " + time.Now().UTC().Format("2006-01-02 15:04")
	}
	body, err := json.Marshal(map[string]any{"name": *name, "kind": "key-rotation", "meters": meters, "pilot": *pilot,
		"maxFailureRate": *maxFail, "minFinished": *minFinished, "concurrency": *concurrency})
	if err != nil {
		return err
	}
	raw, err := callServer(ctx, base, "/api/v1/campaigns", "application/json", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("creating the campaign: %w", err)
	}
	var c struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return fmt.Errorf("creating the campaign: the server's answer: %w", err)
	}
	fmt.Fprintf(stdout, "campaign %s: key rotation of %d meters, %s; a second person approves it to start\n", c.ID, len(meters), c.Status)
	return nil
}

// readMeterList reads the mRIDs of a file (parseMeterList).
func readMeterList(name string) ([]string, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("--meters: %w", err)
	}
	defer f.Close()
	ms, err := parseMeterList(f)
	if err != nil {
		return nil, fmt.Errorf("--meters %s%w", name, err)
	}
	return ms, nil
}

// parseMeterList reads mRIDs, one a line; blank lines and # comments are
// skipped, and a meter named twice is rotated once. An error starts with
// the line (":3: ...").
func parseMeterList(r io.Reader) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		s, _, _ := strings.Cut(sc.Text(), "#")
		s = strings.TrimSpace(s)
		switch {
		case s == "" || seen[s]:
			continue
		case strings.ContainsAny(s, " \t,;") || !utf8.ValidString(s):
			return nil, fmt.Errorf(":%d: %q is not one mRID", line, s)
		}
		seen[s] = true
		out = append(out, s)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf(": %w", err)
	}
	return out, nil
}

// segmentMeters lists the meters registered in a segment, page by page.
func segmentMeters(ctx context.Context, base *url.URL, segment string) ([]string, error) {
	var out []string
	after := ""
	for {
		q := url.Values{"segment": {segment}, "limit": {"1000"}}
		if after != "" {
			q.Set("after", after)
		}
		raw, err := callServerMethod(ctx, base, http.MethodGet, "/api/v1/meters?"+q.Encode(), "", nil)
		if err != nil {
			return nil, fmt.Errorf("listing segment %s: %w", segment, err)
		}
		var p struct {
			Items []struct {
				MRID string `json:"mRID"`
			} `json:"items"`
			Next string `json:"next"`
		}
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, fmt.Errorf("server %s: listing segment %s: %w", base.Host, segment, err)
		}
		for _, m := range p.Items {
			out = append(out, m.MRID)
		}
		if p.Next == "" {
			return out, nil
		}
		after = p.Next
	}
}
