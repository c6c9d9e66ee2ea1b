package headend_test

import (
	"context"
	"encoding/hex"
	"strconv"
	"testing"

	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/headend/dlmsdriver"
	"github.com/amigo-ami/amigo/manifest"
)

// dlmsDrivers registers the rows of the tests' DLMS shipments.
var dlmsDrivers = []headend.Driver{dlmsdriver.New(dlmsdriver.Config{})}

// dlmsFields are a DLMS row's own columns.
func dlmsFields(transport string, sap uint16, auth, policy string, title, ek, ak []byte, password string) map[string]string {
	return map[string]string{"transport": transport, "client_sap": strconv.Itoa(int(sap)), "authentication": auth,
		"security_policy": policy, "system_title": hex.EncodeToString(title), "ek": hex.EncodeToString(ek),
		"ak": hex.EncodeToString(ak), "lls_password": password}
}

// rowField decodes a hex column of a DLMS row.
func rowField(r manifest.Row, name string) []byte {
	b, _ := hex.DecodeString(r.Fields[name])
	return b
}

// dlmsColumnNames names the DLMS driver's columns, as a manifest has them.
func dlmsColumnNames() []string {
	var names []string
	for _, c := range dlmsDrivers[0].Columns() {
		names = append(names, c.Name)
	}
	return names
}

// openDLMS opens the credentials the DLMS driver made for a meter.
func openDLMS(t testing.TB, st headend.CredentialStore, keys headend.SecretOpener, mrid string) dlmsdriver.Credentials {
	t.Helper()
	plain, err := headend.OpenCredentials(context.Background(), st, keys, mrid)
	if err != nil {
		t.Fatal(err)
	}
	c, err := dlmsdriver.ParseCredentials(plain)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
