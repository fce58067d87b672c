package eval

import (
	"testing"
)

func TestNormalizeCompany(t *testing.T) {
	tests := []struct{ in, want string }{
		{"MR. D.I.Y. (M) SDN BHD", "mr d i y"},
		{"99 SPEED MART S/B", "99 speed mart"},
		{"AEON CO. (M) BHD", "aeon"},
		{"GARDENIA BAKERIES (KL) SDN BHD", "gardenia bakeries"},
		{"B & BEST RESTAURANT", "b and best restaurant"},
		{"Sanyu  Stationery\nShop", "sanyu stationery shop"},
		{"SDN BHD", "sdn"}, // one word always stays
	}
	for _, tt := range tests {
		if got := NormalizeCompany(tt.in); got != tt.want {
			t.Errorf("NormalizeCompany(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestMerchantMatches(t *testing.T) {
	tests := []struct {
		got, company string
		want         bool
	}{
		{"MR D.I.Y. (M) SDN. BHD.", "MR. D.I.Y. (M) SDN BHD", true},
		{"Mr DIY", "MR. D.I.Y. (KUCHAI) SDN BHD", true},
		{"AEON", "AEON CO. (M) BHD", true},
		{"SHOP", "SANYU STATIONERY SHOP", false},
		{"", "AEON CO. (M) BHD", false},
		{"GARDENIA BAKERIES", "GARDENIA BAKERIES (KL) SDN BHD", true},
		{"GARDENIA", "GARDENIA BAKERIES (KL) SDN BHD", false},
		{"MR Diy Kuchai", "MR. D. I. Y. (KUCHAI) SDN BHD", true},
		{"MR Diy Kuchai", "MR. D.I.Y. (M) SDN BHD", false},
	}
	for _, tt := range tests {
		if got := MerchantMatches(tt.got, tt.company); got != tt.want {
			t.Errorf("MerchantMatches(%q, %q) = %v, want %v", tt.got, tt.company, got, tt.want)
		}
	}
}

func TestAmounts(t *testing.T) {
	tests := []struct {
		got, truth string
		want       bool
	}{
		{"8.20", "$8.20", true},
		{"68.1", "RM 68.10", true},
		{"1234.50", "1,234.50", true},
		{"28.05", "RM28.05", true},
		{"28.50", "28.05", false},
		{"", "5.00", false},
		{"5", "5.00", true},
	}
	for _, tt := range tests {
		if got := AmountMatches(tt.got, tt.truth); got != tt.want {
			t.Errorf("AmountMatches(%q, %q) = %v, want %v", tt.got, tt.truth, got, tt.want)
		}
	}
	appears := []struct {
		text, truth string
		want        bool
	}{
		{"TOTAL (RM): 112.45\nCASH 120.00", "112.45", true},
		{"Total 1,234.50", "1234.50", true},
		{"Total: 112.46", "112.45", false},
		{"Net Total RM28 05", "RM28.05", false}, // no decimal point: not legible as an amount
		{"ROUNDING 0.02 TOTAL 8. 20", "$8.20", true},
	}
	for _, tt := range appears {
		if got := AmountAppears(tt.text, tt.truth); got != tt.want {
			t.Errorf("AmountAppears(%q, %q) = %v, want %v", tt.text, tt.truth, got, tt.want)
		}
	}
}

func TestDates(t *testing.T) {
	tests := []struct {
		got, truth string
		want       bool
	}{
		{"2018-02-12", "12/02/2018", true},
		{"2018-12-02", "12/02/2018", false}, // labels are day first
		{"2018-03-03", "03 MAR 2018", true},
		{"2017-02-25", "25/FEB/2017", true},
		{"2018-05-11", "11/5/2018", true},
		{"2016-04-22", "22-04-16", true},
		{"2018-06-30", "30-06-18", true},
		{"2018-06-30T10:00:00Z", "30-06-18", true},
		{"", "30-06-18", false},
		{"30/06/2018", "30-06-18", false}, // extraction must give ISO
	}
	for _, tt := range tests {
		if got := DateMatches(tt.got, tt.truth); got != tt.want {
			t.Errorf("DateMatches(%q, %q) = %v, want %v", tt.got, tt.truth, got, tt.want)
		}
	}
	appears := []struct {
		text, truth string
		want        bool
	}{
		{"ORD #07 -REG #19- 10/03/2018 17:24:07", "10/03/2018", true},
		{"Date 29/12/2077 11:41", "29/12/2017", false},
		{"18 Mar 2018 18:25", "18 MAR 2018", true},
		{"Date: 2018-03-30", "30/03/2018", true},
		{"Invoice 110/03/2018", "10/03/2018", false}, // part of a longer number
		{"Tel 1-300-80-2366", "01/03/2018", false},
	}
	for _, tt := range appears {
		if got := DateAppears(tt.text, tt.truth); got != tt.want {
			t.Errorf("DateAppears(%q, %q) = %v, want %v", tt.text, tt.truth, got, tt.want)
		}
	}
}

func TestCompanyAppearsAndWordRecall(t *testing.T) {
	text := "AIK HUAT HARDWARE\nENTERPRISE (SETIA ALAM)\nSDN BHD\nTOTAL 15.00"
	if !CompanyAppears(text, "AIK HUAT HARDWARE ENTERPRISE (SETIA ALAM) SDN BHD") {
		t.Error("a name split over lines was not found")
	}
	if CompanyAppears("AIK HUAT HARDWAR", "AIK HUAT HARDWARE") {
		t.Error("a misread name was found")
	}
	found, total := WordRecall("TOTAL 15.00 CASH", []string{"TOTAL: 15.00", "CASH 20.00", "x"})
	if found != 3 || total != 4 { // "x" is too short to count
		t.Errorf("WordRecall = %d/%d, want 3/4", found, total)
	}
}
