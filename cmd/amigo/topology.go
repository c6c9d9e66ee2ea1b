package main

import (
	"context"
	"encoding/json"
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
	register("topology", "import, show and export the grid behind the meters on a running server", cmdTopology)
}

// topoNode is a node as the server answers it.
type topoNode struct {
	ID        string  `json:"id"`
	Level     string  `json:"level"`
	Parent    string  `json:"parent"`
	Region    string  `json:"region"`
	Lat       float64 `json:"lat"`
	Lon       float64 `json:"lon"`
	Phase     int     `json:"phase"`
	DistanceM int     `json:"distanceM"`
}

func cmdTopology(args []string, stdout, stderr io.Writer) error {
	def := os.Getenv("AMIGO_SERVER")
	if def == "" {
		def = "http://127.0.0.1:8080"
	}
	fs := newFlags("topology", "import FILE [--effective D] | show [--at T] [NODE] | versions | export [--at T] [flags]",
		"Keeps the grid behind the meters (substations, feeders, transformers, the usage points they\n"+
			"supply) on a running server, as versions effective from a date; see docs/topology.md.\n"+
			"  import FILE   store FILE (usage_point,transformer,feeder,substation[,region,lat,lon,phase,\n"+
			"                distance_m,transformer_distance_m]) as a new version effective from --effective\n"+
			"                (default today); a bad file is refused whole, naming its line and column.\n"+
			"                Needs the configure permission.\n"+
			"  show [NODE]   the version in force at --at: its counts, or a node's path, children,\n"+
			"                customers and meters\n"+
			"  versions      every version with the date it is effective from\n"+
			"  export        the version in force at --at as the CSV import takes\n"+
			"The token is AMIGO_TOKEN.", stderr)
	server := fs.String("server", def, "server base `url`")
	effective := fs.String("effective", "", "import: when the version takes over: a `date` (YYYY-MM-DD, from its UTC start; default today) or an RFC 3339 time")
	at := fs.String("at", "", "show, export: the version in force at this RFC 3339 `time` or date; default now")
	timeout := fs.Duration("timeout", 10*time.Minute, "give up after this `duration`")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usageError{fmt.Errorf("say what to do: import, show, versions or export")}
	}
	base, err := serverURL(*server)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	atQuery := ""
	if *at != "" {
		atQuery = "?at=" + url.QueryEscape(*at)
	}
	switch verb := fs.Arg(0); verb {
	case "import":
		if fs.NArg() != 2 {
			return usageError{fmt.Errorf("import: give one topology file")}
		}
		f, err := os.Open(fs.Arg(1))
		if err != nil {
			return err
		}
		defer f.Close()
		path := "api/v1/topology"
		if *effective != "" {
			path += "?effective=" + url.QueryEscape(*effective)
		}
		raw, err := callServerMethod(ctx, base, http.MethodPut, path, "text/csv", f)
		if err != nil {
			return fmt.Errorf("topology import %s: %w", fs.Arg(1), err)
		}
		var v struct {
			Version         int
			EffectiveFrom   time.Time
			Nodes, Services int
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			return fmt.Errorf("topology import: unreadable answer: %w", err)
		}
		fmt.Fprintf(stdout, "version %d: %d nodes, %d services, effective from %s\n", v.Version, v.Nodes, v.Services, v.EffectiveFrom.UTC().Format("2006-01-02"))
		return nil
	case "versions":
		raw, err := callServerMethod(ctx, base, http.MethodGet, "api/v1/topology/versions", "", nil)
		if err != nil {
			return fmt.Errorf("topology versions: %w", err)
		}
		var l struct {
			Items []struct {
				Version       int
				EffectiveFrom time.Time
				Nodes         int
			}
		}
		if err := json.Unmarshal(raw, &l); err != nil {
			return fmt.Errorf("topology versions: unreadable answer: %w", err)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "VERSION\tEFFECTIVE FROM\tNODES")
		for _, v := range l.Items {
			fmt.Fprintf(tw, "%d\t%s\t%d\n", v.Version, v.EffectiveFrom.UTC().Format(time.RFC3339), v.Nodes)
		}
		return tw.Flush()
	case "export":
		raw, err := callServerMethod(ctx, base, http.MethodGet, "api/v1/topology/export"+atQuery, "", nil)
		if err != nil {
			return fmt.Errorf("topology export: %w", err)
		}
		_, err = stdout.Write(raw)
		return err
	case "show":
		switch fs.NArg() {
		case 1:
			return showGrid(ctx, base, atQuery, stdout)
		case 2:
			return showNode(ctx, base, fs.Arg(1), atQuery, stdout)
		}
		return usageError{fmt.Errorf("show: give at most one node")}
	default:
		return usageError{fmt.Errorf("unknown subcommand %q; run 'amigo topology --help'", verb)}
	}
}

// showGrid prints the version in force and its substations and feeders
// with the customers under each.
func showGrid(ctx context.Context, base *url.URL, atQuery string, stdout io.Writer) error {
	raw, err := callServerMethod(ctx, base, http.MethodGet, "api/v1/topology"+atQuery, "", nil)
	if err != nil {
		return fmt.Errorf("topology show: %w", err)
	}
	var g struct {
		Version         int
		EffectiveFrom   time.Time
		Nodes, Services int
		Items           []topoNode
	}
	if err := json.Unmarshal(raw, &g); err != nil {
		return fmt.Errorf("topology show: unreadable answer: %w", err)
	}
	count := map[string]int{}
	under := map[string]int{} // services under each substation and feeder
	parent := map[string]string{}
	for _, n := range g.Items {
		count[n.Level]++
		parent[n.ID] = n.Parent
	}
	for _, n := range g.Items {
		if n.Level != "service" {
			continue
		}
		for p := parent[n.ID]; p != ""; p = parent[p] {
			under[p]++
		}
	}
	fmt.Fprintf(stdout, "version %d, effective from %s: %d substations, %d feeders, %d transformers, %d services\n",
		g.Version, g.EffectiveFrom.UTC().Format(time.RFC3339), count["substation"], count["feeder"], count["transformer"], count["service"])
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LEVEL\tID\tPARENT\tREGION\tCUSTOMERS")
	for _, n := range g.Items {
		if n.Level == "substation" || n.Level == "feeder" {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", n.Level, n.ID, dash(n.Parent), dash(n.Region), under[n.ID])
		}
	}
	return tw.Flush()
}

func showNode(ctx context.Context, base *url.URL, id, atQuery string, stdout io.Writer) error {
	raw, err := callServerMethod(ctx, base, http.MethodGet, "api/v1/topology/nodes/"+url.PathEscape(id)+atQuery, "", nil)
	if err != nil {
		return fmt.Errorf("topology show %s: %w", id, err)
	}
	var d struct {
		Version       int
		EffectiveFrom time.Time
		Node          topoNode
		Path          []topoNode
		Children      []topoNode
		Customers     int
		Meters        []string
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		return fmt.Errorf("topology show: unreadable answer: %w", err)
	}
	var path []string
	for _, n := range d.Path {
		path = append(path, n.Level+" "+n.ID)
	}
	n := d.Node
	fmt.Fprintf(stdout, "%s %s (version %d, effective from %s)\n", n.Level, n.ID, d.Version, d.EffectiveFrom.UTC().Format(time.RFC3339))
	fmt.Fprintf(stdout, "path: %s\n", strings.Join(path, " > "))
	fmt.Fprintf(stdout, "customers: %d\n", d.Customers)
	if n.Region != "" {
		fmt.Fprintf(stdout, "region: %s\n", n.Region)
	}
	if n.Lat != 0 || n.Lon != 0 {
		fmt.Fprintf(stdout, "position: %g, %g\n", n.Lat, n.Lon)
	}
	if n.Phase != 0 {
		fmt.Fprintf(stdout, "phase: %d\n", n.Phase)
	}
	if n.DistanceM != 0 {
		fmt.Fprintf(stdout, "distance: %d m\n", n.DistanceM)
	}
	if len(d.Children) > 0 {
		ids := make([]string, len(d.Children))
		for i, c := range d.Children {
			ids[i] = c.ID
		}
		fmt.Fprintf(stdout, "children (%d): %s\n", len(ids), strings.Join(ids, " "))
	}
	if n.Level == "service" {
		fmt.Fprintf(stdout, "meters: %s\n", dash(strings.Join(d.Meters, " ")))
	}
	return nil
}
