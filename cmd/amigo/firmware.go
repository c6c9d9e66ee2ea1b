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
	"os"
	"strings"
	"time"

	"github.com/amigo-ami/amigo/firmware"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/store"
)

func init() {
	register("firmware", "firmware images: keygen, sign, inspect, import into the store, campaign", cmdFirmware)
}

const firmwareUsage = `Usage: amigo firmware keygen --out KEY
       amigo firmware sign --key KEY --in BIN --version V [--vendor AMG] [--model M] [--out IMAGE]
       amigo firmware inspect [--trust KEY.pub] IMAGE
       amigo firmware import --trust KEY.pub [--by USER] IMAGE
       amigo firmware campaign --image ID --activate TIME --meters FILE [flags]`

func cmdFirmware(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintln(stderr, firmwareUsage)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return nil
		}
		return usageError{errors.New("give a subcommand: keygen, sign, inspect, import or campaign")}
	}
	switch args[0] {
	case "keygen":
		return cmdFirmwareKeygen(args[1:], stdout, stderr)
	case "sign":
		return cmdFirmwareSign(args[1:], stdout, stderr)
	case "inspect":
		return cmdFirmwareInspect(args[1:], stdout, stderr)
	case "import":
		return cmdFirmwareImport(args[1:], stdout, stderr)
	case "campaign":
		return cmdFirmwareCampaign(args[1:], stdout, stderr)
	}
	return usageError{fmt.Errorf("unknown subcommand %q: keygen, sign, inspect, import or campaign", args[0])}
}

func cmdFirmwareKeygen(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("firmware keygen", "--out KEY",
		"Makes a firmware-signing key (ECDSA P-256): the private key in KEY (PKCS#8 PEM, mode 0600) and the\n"+
			"public key the fleet and the head-end trust in KEY.pub. It is a key of its own, never the\n"+
			"command-signing key.", stderr)
	out := fs.String("out", "", "private key `file`")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return usageError{errors.New("--out is required")}
	}
	k, err := firmware.GenerateKey()
	if err != nil {
		return err
	}
	priv, err := firmware.MarshalPrivateKey(k)
	if err != nil {
		return err
	}
	pub, err := firmware.MarshalPublicKey(&k.PublicKey)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(priv); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.WriteFile(*out+".pub", pub, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "firmware key written to %s, its public key to %s.pub\n", *out, *out)
	return nil
}

func cmdFirmwareSign(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("firmware sign", "--key KEY --in BIN --version V [flags]",
		"Wraps a firmware binary in a signed image: a header (vendor, model, version, size, SHA-256 of the\n"+
			"binary) and an ECDSA P-256 signature over header and binary by the firmware key. The version is\n"+
			"the image identifier meters receive it under and report once they run it.", stderr)
	keyPath := fs.String("key", "", "firmware-signing key `file` (PEM)")
	in := fs.String("in", "", "firmware binary `file`")
	version := fs.String("version", "", "image `version` (identifier), e.g. AMG-IDIS-2.5.0")
	vendor := fs.String("vendor", "AMG", "`vendor` (manufacturer flag)")
	model := fs.String("model", "AMG-E1", "meter `model` the image is for")
	out := fs.String("out", "", "image `file` (default: BIN.amfw)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *keyPath == "" || *in == "" || *version == "" {
		return usageError{errors.New("--key, --in and --version are required")}
	}
	kb, err := os.ReadFile(*keyPath)
	if err != nil {
		return err
	}
	key, err := firmware.ParsePrivateKey(kb)
	if err != nil {
		return fmt.Errorf("%s: %w", *keyPath, err)
	}
	payload, err := os.ReadFile(*in)
	if err != nil {
		return err
	}
	img, err := firmware.Sign(key, *vendor, *model, *version, payload)
	if err != nil {
		return err
	}
	b, err := img.Encode()
	if err != nil {
		return err
	}
	if *out == "" {
		*out = *in + ".amfw"
	}
	if err := os.WriteFile(*out, b, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: image %s of %d bytes signed\n", *out, img.Identifier(), img.Size)
	return nil
}

// readImage reads an image file and, with a trusted key, checks its
// signature.
func readImage(path, trust string) (firmware.Image, []byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return firmware.Image{}, nil, err
	}
	if trust == "" {
		img, err := firmware.Decode(b)
		if err != nil {
			return img, nil, fmt.Errorf("%s: %w", path, err)
		}
		return img, b, nil
	}
	kb, err := os.ReadFile(trust)
	if err != nil {
		return firmware.Image{}, nil, err
	}
	pub, err := firmware.ParsePublicKey(kb)
	if err != nil {
		return firmware.Image{}, nil, fmt.Errorf("%s: %w", trust, err)
	}
	img, err := firmware.Check(b, pub)
	if err != nil {
		return img, nil, fmt.Errorf("%s refused: %w", path, err)
	}
	return img, b, nil
}

func cmdFirmwareInspect(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("firmware inspect", "[--trust KEY.pub] IMAGE",
		"Prints a signed image's header; with --trust, checks its signature against that key and fails\n"+
			"when it is not the key's.", stderr)
	trust := fs.String("trust", "", "trusted firmware public key `file` (PEM)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{errors.New("give the image file")}
	}
	img, _, err := readImage(fs.Arg(0), *trust)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "vendor     %s\nmodel      %s\nversion    %s\nsize       %d\nsha256     %s\n",
		img.Vendor, img.Model, img.Version, img.Size, hex.EncodeToString(img.SHA256[:]))
	if *trust != "" {
		fmt.Fprintln(stdout, "signature  good (the trusted firmware key)")
	} else {
		fmt.Fprintln(stdout, "signature  not checked (no --trust)")
	}
	return nil
}

func cmdFirmwareImport(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("firmware import", "--trust KEY.pub IMAGE [flags]",
		"Checks a signed image against the trusted firmware key and stores it for firmware campaigns, under\n"+
			"its version. An image with a bad signature is refused and not stored.", stderr)
	trust := fs.String("trust", "", "trusted firmware public key `file` (PEM)")
	by := fs.String("by", os.Getenv("USER"), "`user` importing it")
	cfgPath := fs.String("config", os.Getenv("AMIGO_CONFIG"), "YAML config `file`")
	data := fs.String("data", "", "data `directory`")
	storeURL := fs.String("store", "", "store `url`")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{errors.New("give the image file")}
	}
	if *trust == "" {
		return usageError{errors.New("--trust is required: an image is stored only once its signature is checked")}
	}
	img, b, err := readImage(fs.Arg(0), *trust)
	if err != nil {
		return err
	}
	st, err := openStore(*cfgPath, *data, *storeURL)
	if err != nil {
		return err
	}
	defer st.Close()
	err = st.PutFirmwareImage(context.Background(), store.FirmwareImage{ID: img.Identifier(), Vendor: img.Vendor, Model: img.Model,
		Version: img.Version, Size: int64(img.Size), SHA256: hex.EncodeToString(img.SHA256[:]), Image: b, AddedBy: *by})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "image %s stored (%d bytes, signature good)\n", img.Identifier(), img.Size)
	return nil
}

func cmdFirmwareCampaign(args []string, stdout, stderr io.Writer) error {
	def := os.Getenv("AMIGO_SERVER")
	if def == "" {
		def = "http://127.0.0.1:8080"
	}
	fs := newFlags("firmware campaign", "--image ID --activate TIME --meters FILE [flags]",
		"Creates a firmware campaign on a running server (the token is AMIGO_TOKEN): each meter gets the\n"+
			"stored image by image transfer, verified by the meter, and a firmware-activate command scheduled at\n"+
			"--activate, approved with the campaign. It runs once a second person approves it\n"+
			"(amigo campaign approve ID); follow it with amigo campaign show ID.", stderr)
	server := fs.String("server", def, "server base `url`")
	image := fs.String("image", "", "the stored image's `id` (its version; see amigo firmware import)")
	activate := fs.String("activate", "", "when the meters activate the image, RFC 3339 `time`")
	metersFile := fs.String("meters", "", "a `file` of meter ids, one per line, in the order to take them")
	name := fs.String("name", "", "a name for people (default: the image)")
	pilot := fs.Int("pilot", 0, "how many of the first meters run, and must pass, before the rest")
	rate := fs.Float64("max-failure-rate", 0, "stop when the share of failed meters exceeds this (0..1; 0: the server's default)")
	minFinished := fs.Int("min-finished", 0, "judge the failure rate once this many meters finished (0: the server's default)")
	concurrency := fs.Int("concurrency", 0, "meters in flight (0: the server's default)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *image == "" || *activate == "" || *metersFile == "" {
		return usageError{errors.New("--image, --activate and --meters are required")}
	}
	at, err := time.Parse(time.RFC3339, *activate)
	if err != nil {
		return usageError{fmt.Errorf("--activate: %v", err)}
	}
	if *name == "" {
		*name = *image
	}
	meters, err := readIDs(*metersFile)
	if err != nil {
		return err
	}
	base, err := serverURL(*server)
	if err != nil {
		return err
	}
	body, _ := json.Marshal(map[string]any{"name": *name, "kind": headend.FirmwareKind, "meters": meters, "pilot": *pilot,
		"maxFailureRate": *rate, "minFinished": *minFinished, "concurrency": *concurrency,
		"params": map[string]string{headend.FirmwareParamImage: *image, headend.FirmwareParamActivate: at.UTC().Format(time.RFC3339)}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	raw, err := callServerMethod(ctx, base, http.MethodPost, "api/v1/campaigns", "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	var c campaignView
	if err := json.Unmarshal(raw, &c); err != nil {
		return fmt.Errorf("firmware campaign: unreadable answer: %w", err)
	}
	c.print(stdout)
	fmt.Fprintf(stdout, "it runs once someone else approves it: amigo campaign approve %s\n", c.ID)
	return nil
}
