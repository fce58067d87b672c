package extract

import "testing"

func TestCategory(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"restaurant", "GOLDEN DRAGON RESTAURANT\nFried rice 8.00\nTOTAL 8.00", "meals"},
		{"cafe", "Blue Door Cafe\nLatte 4.50", "meals"},
		{"petrol", "SHELL STATION KM 12\nRON95 30.00L\nTOTAL 60.00", "fuel"},
		{"hardware", "KIM HARDWARE SDN BHD\nCEMENT 2 BAGS 40.00", "supplies"},
		{"hotel", "GRAND RIVER HOTEL\nRoom charge 2 nights", "lodging"},
		{"taxi", "CITY TAXI SERVICES\nFare 23.00", "transport"},
		{"pharmacy", "HEALTHY LIFE PHARMACY\nPanadol 5.90", "health"},
		{"stationery", "TEO STATIONERY & BOOKS\nPEN 1.20", "office"},
		{"supermarket", "SUNNY SUPERMARKET\nMilk 2.00", "groceries"},
		{"merchant name beats body words", "ACE BOOK STORE\nFood colouring 2.00\nTOTAL 2.00", "office"},
		{"nothing known", "XYZ SDN BHD\nWidget 2.00", ""},
	}
	e := New(Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := e.Extract(tt.text, nil)
			got := ""
			if f.Category != nil {
				got = f.Category.Value
			}
			if got != tt.want {
				t.Errorf("category = %q (%+v), want %q", got, f.Category, tt.want)
			}
		})
	}
}

func TestCategoryCustomTaxonomy(t *testing.T) {
	e := New(Options{Categories: map[string][]string{"travel": {"hotel", "airline"}, "food": {"kopitiam"}}})
	if f := e.Extract("ALOHA KOPITIAM\nKOPI O 1.50", nil); f.Category == nil || f.Category.Value != "food" {
		t.Errorf("category = %+v, want food", f.Category)
	}
	if f := e.Extract("GOLDEN DRAGON RESTAURANT", nil); f.Category != nil {
		t.Errorf("default taxonomy leaked into custom one: %+v", f.Category)
	}
	if f := New(Options{Categories: map[string][]string{}}).Extract("GRAND HOTEL", nil); f.Category != nil {
		t.Errorf("empty taxonomy gave %+v", f.Category)
	}
}
