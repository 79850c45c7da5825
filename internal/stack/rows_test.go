package stack

import (
	"reflect"
	"testing"
)

// Output of: ovs-vsctl --format=json --columns=... list Interface -- --columns=... list Port
const vsctlJSON = `{"data":[[["uuid","f017f548-a035-4b24-8810-9772de29d030"],"br0","internal",["map",[]],["map",[]],["set",[]],["set",[]],["set",[]]],[["uuid","0b3789cd-4273-4965-a3d4-cfc9397f79d7"],"p1","internal",["map",[["x","y"]]],["map",[["a","b"]]],420,1,"boom"]],"headings":["_uuid","name","type","options","external_ids","mtu_request","ofport","error"]}
{"data":[["br0",["uuid","f017f548-a035-4b24-8810-9772de29d030"]],["p1",["set",[["uuid","0b3789cd-4273-4965-a3d4-cfc9397f79d7"],["uuid","53818f10-f603-4965-a9c6-318ecdf4b687"]]]]],"headings":["name","interfaces"]}
`

func TestParseTables(t *testing.T) {
	tables, err := parseTables(vsctlJSON)
	if err != nil {
		t.Fatal(err)
	}
	if len(tables) != 2 || len(tables[0]) != 2 || len(tables[1]) != 2 {
		t.Fatalf("got %d tables: %v", len(tables), tables)
	}
	br0, p1 := tables[0][0], tables[0][1]
	if br0.Str("_uuid") != "f017f548-a035-4b24-8810-9772de29d030" || br0.Str("name") != "br0" {
		t.Errorf("br0 = %v", br0)
	}
	if _, ok := br0.Int("mtu_request"); ok || br0.Str("error") != "" || len(br0.Map("options")) != 0 {
		t.Errorf("br0 empty columns = %v", br0)
	}
	if n, ok := p1.Int("mtu_request"); !ok || n != 420 {
		t.Errorf("p1 mtu_request = %v, %v", n, ok)
	}
	if !reflect.DeepEqual(p1.Map("options"), map[string]string{"x": "y"}) || p1.Map("external_ids")["a"] != "b" {
		t.Errorf("p1 maps = %v", p1)
	}
	if p1.Str("error") != "boom" {
		t.Errorf("p1 error = %q", p1.Str("error"))
	}
	if got := tables[1][0].Strs("interfaces"); len(got) != 1 {
		t.Errorf("single uuid as set: %v", got)
	}
	if got := tables[1][1].Strs("interfaces"); len(got) != 2 {
		t.Errorf("uuid set: %v", got)
	}
}

func TestParseTablesBad(t *testing.T) {
	for _, in := range []string{`{"data":[[1]],"headings":["a","b"]}`, `{"data":[[["foo",1]]],"headings":["a"]}`, `{`} {
		if _, err := parseTables(in); err == nil {
			t.Errorf("parseTables(%s) succeeded", in)
		}
	}
}
