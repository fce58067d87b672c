package extract

import "testing"

func TestMerchant(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"first line with legal suffix", `
KEDAI RUNCIT MAJU JAYA SDN BHD (123456-X)
NO 12, JALAN MERDEKA 3
50450 KUALA LUMPUR
TEL: 03-1234 5678
GST ID: 000123456789
TAX INVOICE`, "KEDAI RUNCIT MAJU JAYA SDN BHD"},
		{"skips noise, numbers and registration lines", `
3180303
R
(481500-M)
BLUE HERON TRADING SDN BHD
NO.50, JALAN INDUSTRI 14/11`, "BLUE HERON TRADING SDN BHD"},
		{"us store with address below", `
Hillside Market
1234 Main Street
Springfield, IL 62704
(217) 555-0199
www.hillsidemarket.com`, "Hillside Market"},
		{"uk ltd with vat number", `
RECEIPT
THE OLD MILL BAKERY LTD
12 High Street, Oxford OX1 4AA
VAT Reg No 123 4567 89`, "THE OLD MILL BAKERY LTD"},
		{"german gmbh", `
Backhaus Sonnenschein GmbH
Hauptstrasse 5
10115 Berlin
USt-ID DE123456789`, "Backhaus Sonnenschein GmbH"},
		{"name broken across two lines by its suffix", `
SOUTHERN PAPER
CO. (M) SDN BHD
(CO. NO. 113821-W)
NO 8, JALAN 7/1188`, "SOUTHERN PAPER CO. (M) SDN BHD"},
		{"second line continues the name", `
RESTAURANT LOTUS
LOTUS GARDEN
002693074-K
13, JLN TASIK UTAMA 8`, "RESTAURANT LOTUS LOTUS GARDEN"},
		{"branch line below a suffixed name is not joined", `
GREENLEAF RETAIL SDN BHD (728515-M)
GREENLEAF MART SRI MUDA
4-20, JALAN RIA 25/62`, "GREENLEAF RETAIL SDN BHD"},
		{"suffixed name below a branch code wins", `
SHOP@SP3
ORCHID GROUP SDN BHD
ROC: 1026984-X`, "ORCHID GROUP SDN BHD"},
		{"ocr junk cleaned", `
ie || OCEAN  VIEW   CAFE SDN BHO 7
LOT 5 JALAN PANTAI`, "OCEAN VIEW CAFE SDN BHD"},
		{"lowercase ocr noise line skipped", `
a ee tee ont oan
PY
SUNRISE MART S/B (519537-X)
LOT P.T. 2811, JALAN ANGSA`, "SUNRISE MART S/B"},
		{"tax invoice title skipped", `
TAX INVOICE
Lucky Star Enterprise
No 3 Jalan Jasa`, "Lucky Star Enterprise"},
		{"a name starting with CO is not a suffix line", `
WELCOME
CO-OP SUPERMARKET
12 STATION ROAD`, "CO-OP SUPERMARKET"},
		{"only a title and an address", `
TAX INVOICE
NO 3, JALAN TAMAN JASA 2
TEL 03-5885 6749`, ""},
	}
	e := New(Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := e.Extract(tt.text, nil)
			got := ""
			if f.Merchant != nil {
				got = f.Merchant.Value
			}
			if got != tt.want {
				t.Errorf("merchant = %q (%+v), want %q", got, f.Merchant, tt.want)
			}
		})
	}
}

func TestMerchantConfidenceRaisedBySuffix(t *testing.T) {
	e := New(Options{})
	withSuffix := e.Extract("HARBOUR FOODS SDN BHD\nNO 1 JALAN LAUT", nil).Merchant
	without := e.Extract("Harbour\nNO 1 JALAN LAUT", nil).Merchant
	if withSuffix == nil || without == nil {
		t.Fatal("missing merchant")
	}
	if withSuffix.Confidence <= without.Confidence {
		t.Errorf("suffix %.2f ≤ plain %.2f", withSuffix.Confidence, without.Confidence)
	}
}

func TestCleanName(t *testing.T) {
	for in, want := range map[string]string{
		"TRI SHAAS SDN BHD (728515-M)":       "TRI SHAAS SDN BHD",
		"GARDEN BAKERIES SDN BHD (139386 X)": "GARDEN BAKERIES SDN BHD",
		"~~ BEST  MART ~~":                   "BEST MART",
		"99 SPEED MART $/B":                  "99 SPEED MART S/B",
		"ALPHA TRADING SEN 3HD":              "ALPHA TRADING SDN BHD",
		"C&C CASH & CARRY SDN BHD":           "C&C CASH & CARRY SDN BHD",
		"RESTORAN WAN SHENG 002043319-W":     "RESTORAN WAN SHENG",
	} {
		if got := cleanName(in); got != want {
			t.Errorf("cleanName(%q) = %q, want %q", in, got, want)
		}
	}
}
