package main

// The world the benchmark databases are drawn from: countries with their
// continent, the regional internet registry (RIR) that serves them, a rough
// weight (their share of address space, relative) and their main metros
// (real coordinates, rounded). The synthetic cities of -size real are
// scattered around these metros, so locations follow where people and
// networks are, not a uniform grid. The numbers are approximate on purpose:
// the databases must look like GeoIP2-City to a geo compiler, not be one.

type metro struct {
	name     string
	lat, lon float64
	tz       string
	weight   float64
}

type nation struct {
	cc, name, continent string
	rir                 string  // arin, ripe, apnic, lacnic, afrinic
	weight              float64 // relative share of address space
	metros              []metro
}

// mt is shorthand for the table below; tz "" means the country's first tz.
func mt(name string, lat, lon float64, tz string, w float64) metro {
	return metro{name: name, lat: lat, lon: lon, tz: tz, weight: w}
}

var world = []nation{
	// North America (ARIN, and LACNIC for Mexico and Central America).
	{"US", "United States", "NA", "arin", 1500, []metro{
		mt("New York", 40.71, -74.01, "America/New_York", 20), mt("Los Angeles", 34.05, -118.24, "America/Los_Angeles", 13),
		mt("Chicago", 41.88, -87.63, "America/Chicago", 9), mt("Dallas", 32.78, -96.80, "America/Chicago", 7),
		mt("Houston", 29.76, -95.37, "America/Chicago", 6), mt("Washington", 38.91, -77.04, "America/New_York", 6),
		mt("Ashburn", 39.04, -77.49, "America/New_York", 4), mt("Miami", 25.76, -80.19, "America/New_York", 5),
		mt("Atlanta", 33.75, -84.39, "America/New_York", 5), mt("Boston", 42.36, -71.06, "America/New_York", 5),
		mt("San Francisco", 37.77, -122.42, "America/Los_Angeles", 7), mt("Seattle", 47.61, -122.33, "America/Los_Angeles", 4),
		mt("Phoenix", 33.45, -112.07, "America/Phoenix", 4), mt("Denver", 39.74, -104.99, "America/Denver", 3),
		mt("Minneapolis", 44.98, -93.27, "America/Chicago", 3), mt("Detroit", 42.33, -83.05, "America/Detroit", 3),
		mt("Philadelphia", 39.95, -75.17, "America/New_York", 4), mt("St. Louis", 38.63, -90.20, "America/Chicago", 2),
		mt("Kansas City", 39.10, -94.58, "America/Chicago", 2), mt("Salt Lake City", 40.76, -111.89, "America/Denver", 1.5),
		mt("Portland", 45.52, -122.68, "America/Los_Angeles", 2), mt("Charlotte", 35.23, -80.84, "America/New_York", 2),
		mt("Nashville", 36.16, -86.78, "America/Chicago", 1.5), mt("Columbus", 39.96, -83.00, "America/New_York", 2),
		mt("Honolulu", 21.31, -157.86, "Pacific/Honolulu", 0.5), mt("Anchorage", 61.22, -149.90, "America/Anchorage", 0.3),
	}},
	{"CA", "Canada", "NA", "arin", 70, []metro{
		mt("Toronto", 43.65, -79.38, "America/Toronto", 6), mt("Montreal", 45.50, -73.57, "America/Toronto", 4),
		mt("Vancouver", 49.28, -123.12, "America/Vancouver", 3), mt("Calgary", 51.05, -114.07, "America/Edmonton", 1.5),
		mt("Ottawa", 45.42, -75.70, "America/Toronto", 1.2), mt("Edmonton", 53.55, -113.49, "America/Edmonton", 1.2),
		mt("Winnipeg", 49.90, -97.14, "America/Winnipeg", 0.8), mt("Halifax", 44.65, -63.57, "America/Halifax", 0.5),
	}},
	{"PR", "Puerto Rico", "NA", "arin", 2, []metro{mt("San Juan", 18.47, -66.11, "America/Puerto_Rico", 1)}},
	{"MX", "Mexico", "NA", "lacnic", 30, []metro{
		mt("Mexico City", 19.43, -99.13, "America/Mexico_City", 8), mt("Guadalajara", 20.67, -103.35, "", 2),
		mt("Monterrey", 25.69, -100.32, "America/Monterrey", 2), mt("Puebla", 19.04, -98.21, "", 1),
		mt("Tijuana", 32.51, -117.04, "America/Tijuana", 1),
	}},
	{"GT", "Guatemala", "NA", "lacnic", 2, []metro{mt("Guatemala City", 14.63, -90.51, "America/Guatemala", 1)}},
	{"CR", "Costa Rica", "NA", "lacnic", 2, []metro{mt("San Jose", 9.93, -84.08, "America/Costa_Rica", 1)}},
	{"PA", "Panama", "NA", "lacnic", 1.5, []metro{mt("Panama City", 8.98, -79.52, "America/Panama", 1)}},
	{"DO", "Dominican Republic", "NA", "lacnic", 1.5, []metro{mt("Santo Domingo", 18.49, -69.93, "America/Santo_Domingo", 1)}},

	// South America (LACNIC).
	{"BR", "Brazil", "SA", "lacnic", 85, []metro{
		mt("Sao Paulo", -23.55, -46.63, "America/Sao_Paulo", 10), mt("Rio de Janeiro", -22.91, -43.17, "", 5),
		mt("Belo Horizonte", -19.92, -43.94, "", 2), mt("Brasilia", -15.79, -47.88, "", 2),
		mt("Porto Alegre", -30.03, -51.23, "", 2), mt("Curitiba", -25.43, -49.27, "", 2),
		mt("Salvador", -12.97, -38.50, "America/Bahia", 1.5), mt("Recife", -8.05, -34.88, "America/Recife", 1.5),
		mt("Fortaleza", -3.73, -38.53, "America/Fortaleza", 1.5), mt("Manaus", -3.12, -60.02, "America/Manaus", 0.7),
	}},
	{"AR", "Argentina", "SA", "lacnic", 20, []metro{
		mt("Buenos Aires", -34.60, -58.38, "America/Argentina/Buenos_Aires", 6), mt("Cordoba", -31.42, -64.18, "America/Argentina/Cordoba", 1.5),
		mt("Rosario", -32.95, -60.64, "", 1), mt("Mendoza", -32.89, -68.83, "America/Argentina/Mendoza", 0.7),
	}},
	{"CO", "Colombia", "SA", "lacnic", 15, []metro{
		mt("Bogota", 4.71, -74.07, "America/Bogota", 5), mt("Medellin", 6.24, -75.58, "", 2),
		mt("Cali", 3.45, -76.53, "", 1.5), mt("Barranquilla", 10.96, -74.80, "", 1),
	}},
	{"CL", "Chile", "SA", "lacnic", 13, []metro{
		mt("Santiago", -33.45, -70.67, "America/Santiago", 6), mt("Valparaiso", -33.05, -71.62, "", 1),
		mt("Concepcion", -36.83, -73.05, "", 1),
	}},
	{"PE", "Peru", "SA", "lacnic", 6, []metro{mt("Lima", -12.05, -77.04, "America/Lima", 5), mt("Arequipa", -16.41, -71.54, "", 1)}},
	{"VE", "Venezuela", "SA", "lacnic", 6, []metro{mt("Caracas", 10.49, -66.88, "America/Caracas", 4), mt("Maracaibo", 10.64, -71.64, "", 1)}},
	{"EC", "Ecuador", "SA", "lacnic", 4, []metro{mt("Quito", -0.18, -78.47, "America/Guayaquil", 2), mt("Guayaquil", -2.17, -79.92, "", 2)}},
	{"UY", "Uruguay", "SA", "lacnic", 3, []metro{mt("Montevideo", -34.90, -56.16, "America/Montevideo", 1)}},

	// Europe (RIPE).
	{"DE", "Germany", "EU", "ripe", 120, []metro{
		mt("Berlin", 52.52, 13.40, "Europe/Berlin", 5), mt("Frankfurt am Main", 50.11, 8.68, "", 5),
		mt("Munich", 48.14, 11.58, "", 4), mt("Hamburg", 53.55, 9.99, "", 4), mt("Cologne", 50.94, 6.96, "", 3),
		mt("Dusseldorf", 51.23, 6.77, "", 3), mt("Stuttgart", 48.78, 9.18, "", 3), mt("Leipzig", 51.34, 12.37, "", 1.5),
		mt("Dresden", 51.05, 13.74, "", 1.5), mt("Hannover", 52.37, 9.73, "", 1.5), mt("Nuremberg", 49.45, 11.08, "", 1.5),
		mt("Dortmund", 51.51, 7.47, "", 2),
	}},
	{"GB", "United Kingdom", "EU", "ripe", 120, []metro{
		mt("London", 51.51, -0.13, "Europe/London", 12), mt("Manchester", 53.48, -2.24, "", 3),
		mt("Birmingham", 52.49, -1.89, "", 3), mt("Leeds", 53.80, -1.55, "", 2), mt("Glasgow", 55.86, -4.25, "", 2),
		mt("Edinburgh", 55.95, -3.19, "", 1.5), mt("Bristol", 51.45, -2.59, "", 1.5), mt("Cardiff", 51.48, -3.18, "", 1),
		mt("Belfast", 54.60, -5.93, "", 1),
	}},
	{"FR", "France", "EU", "ripe", 90, []metro{
		mt("Paris", 48.86, 2.35, "Europe/Paris", 12), mt("Lyon", 45.76, 4.84, "", 3), mt("Marseille", 43.30, 5.37, "", 3),
		mt("Toulouse", 43.60, 1.44, "", 2), mt("Lille", 50.63, 3.06, "", 2), mt("Bordeaux", 44.84, -0.58, "", 2),
		mt("Nantes", 47.22, -1.55, "", 1.5), mt("Strasbourg", 48.57, 7.75, "", 1.5), mt("Nice", 43.70, 7.27, "", 1),
	}},
	{"IT", "Italy", "EU", "ripe", 50, []metro{
		mt("Milan", 45.46, 9.19, "Europe/Rome", 5), mt("Rome", 41.90, 12.50, "", 5), mt("Naples", 40.85, 14.27, "", 2),
		mt("Turin", 45.07, 7.69, "", 2), mt("Bologna", 44.49, 11.34, "", 1.5), mt("Florence", 43.77, 11.26, "", 1.5),
		mt("Palermo", 38.12, 13.36, "", 1), mt("Bari", 41.12, 16.87, "", 1),
	}},
	{"ES", "Spain", "EU", "ripe", 30, []metro{
		mt("Madrid", 40.42, -3.70, "Europe/Madrid", 6), mt("Barcelona", 41.39, 2.17, "", 5), mt("Valencia", 39.47, -0.38, "", 2),
		mt("Seville", 37.39, -5.98, "", 1.5), mt("Bilbao", 43.26, -2.93, "", 1), mt("Malaga", 36.72, -4.42, "", 1),
	}},
	{"NL", "Netherlands", "EU", "ripe", 50, []metro{
		mt("Amsterdam", 52.37, 4.90, "Europe/Amsterdam", 6), mt("Rotterdam", 51.92, 4.48, "", 3), mt("The Hague", 52.08, 4.31, "", 2),
		mt("Utrecht", 52.09, 5.12, "", 2), mt("Eindhoven", 51.44, 5.47, "", 1),
	}},
	{"BE", "Belgium", "EU", "ripe", 12, []metro{
		mt("Brussels", 50.85, 4.35, "Europe/Brussels", 4), mt("Antwerp", 51.22, 4.40, "", 2), mt("Ghent", 51.05, 3.72, "", 1),
		mt("Liege", 50.63, 5.57, "", 1),
	}},
	{"CH", "Switzerland", "EU", "ripe", 20, []metro{
		mt("Zurich", 47.38, 8.54, "Europe/Zurich", 4), mt("Geneva", 46.20, 6.14, "", 2), mt("Basel", 47.56, 7.59, "", 1),
		mt("Bern", 46.95, 7.45, "", 1),
	}},
	{"AT", "Austria", "EU", "ripe", 12, []metro{
		mt("Vienna", 48.21, 16.37, "Europe/Vienna", 5), mt("Graz", 47.07, 15.44, "", 1), mt("Linz", 48.31, 14.29, "", 1),
		mt("Salzburg", 47.81, 13.04, "", 0.7),
	}},
	{"SE", "Sweden", "EU", "ripe", 28, []metro{
		mt("Stockholm", 59.33, 18.07, "Europe/Stockholm", 5), mt("Gothenburg", 57.71, 11.97, "", 2), mt("Malmo", 55.60, 13.00, "", 1.5),
		mt("Uppsala", 59.86, 17.64, "", 0.7),
	}},
	{"NO", "Norway", "EU", "ripe", 12, []metro{
		mt("Oslo", 59.91, 10.75, "Europe/Oslo", 4), mt("Bergen", 60.39, 5.32, "", 1), mt("Trondheim", 63.43, 10.40, "", 0.7),
	}},
	{"DK", "Denmark", "EU", "ripe", 10, []metro{mt("Copenhagen", 55.68, 12.57, "Europe/Copenhagen", 4), mt("Aarhus", 56.16, 10.20, "", 1)}},
	{"FI", "Finland", "EU", "ripe", 10, []metro{
		mt("Helsinki", 60.17, 24.94, "Europe/Helsinki", 4), mt("Tampere", 61.50, 23.76, "", 1), mt("Turku", 60.45, 22.27, "", 0.7),
	}},
	{"PL", "Poland", "EU", "ripe", 22, []metro{
		mt("Warsaw", 52.23, 21.01, "Europe/Warsaw", 5), mt("Krakow", 50.06, 19.94, "", 2), mt("Wroclaw", 51.11, 17.04, "", 1.5),
		mt("Poznan", 52.41, 16.93, "", 1.2), mt("Gdansk", 54.35, 18.65, "", 1.2), mt("Lodz", 51.76, 19.46, "", 1),
	}},
	{"CZ", "Czechia", "EU", "ripe", 8, []metro{mt("Prague", 50.08, 14.44, "Europe/Prague", 4), mt("Brno", 49.20, 16.61, "", 1.5)}},
	{"RO", "Romania", "EU", "ripe", 12, []metro{
		mt("Bucharest", 44.43, 26.10, "Europe/Bucharest", 5), mt("Cluj-Napoca", 46.77, 23.59, "", 1), mt("Iasi", 47.16, 27.59, "", 1),
		mt("Timisoara", 45.75, 21.23, "", 1),
	}},
	{"HU", "Hungary", "EU", "ripe", 6, []metro{mt("Budapest", 47.50, 19.04, "Europe/Budapest", 5), mt("Debrecen", 47.53, 21.63, "", 0.7)}},
	{"PT", "Portugal", "EU", "ripe", 7, []metro{mt("Lisbon", 38.72, -9.14, "Europe/Lisbon", 4), mt("Porto", 41.15, -8.61, "", 2)}},
	{"IE", "Ireland", "EU", "ripe", 8, []metro{mt("Dublin", 53.35, -6.26, "Europe/Dublin", 5), mt("Cork", 51.90, -8.47, "", 1)}},
	{"GR", "Greece", "EU", "ripe", 6, []metro{mt("Athens", 37.98, 23.73, "Europe/Athens", 5), mt("Thessaloniki", 40.64, 22.94, "", 1.5)}},
	{"UA", "Ukraine", "EU", "ripe", 12, []metro{
		mt("Kyiv", 50.45, 30.52, "Europe/Kyiv", 5), mt("Kharkiv", 49.99, 36.23, "", 1.5), mt("Odesa", 46.48, 30.72, "", 1.5),
		mt("Lviv", 49.84, 24.03, "", 1), mt("Dnipro", 48.46, 35.05, "", 1),
	}},
	{"RU", "Russia", "EU", "ripe", 45, []metro{
		mt("Moscow", 55.76, 37.62, "Europe/Moscow", 10), mt("Saint Petersburg", 59.93, 30.34, "", 4),
		mt("Novosibirsk", 55.01, 82.93, "Asia/Novosibirsk", 1.2), mt("Yekaterinburg", 56.84, 60.61, "Asia/Yekaterinburg", 1.2),
		mt("Kazan", 55.79, 49.12, "", 1), mt("Nizhny Novgorod", 56.33, 44.00, "", 1), mt("Samara", 53.20, 50.15, "Europe/Samara", 0.8),
		mt("Krasnodar", 45.04, 38.98, "", 0.8), mt("Vladivostok", 43.12, 131.89, "Asia/Vladivostok", 0.5),
	}},
	{"BG", "Bulgaria", "EU", "ripe", 5, []metro{mt("Sofia", 42.70, 23.32, "Europe/Sofia", 3), mt("Plovdiv", 42.14, 24.75, "", 1)}},
	{"RS", "Serbia", "EU", "ripe", 3, []metro{mt("Belgrade", 44.79, 20.45, "Europe/Belgrade", 1)}},

	// Asia (APNIC; the Middle East and Central Asia are served by RIPE).
	{"CN", "China", "AS", "apnic", 340, []metro{
		mt("Beijing", 39.90, 116.41, "Asia/Shanghai", 8), mt("Shanghai", 31.23, 121.47, "", 8), mt("Guangzhou", 23.13, 113.26, "", 6),
		mt("Shenzhen", 22.54, 114.06, "", 5), mt("Chengdu", 30.57, 104.07, "", 4), mt("Hangzhou", 30.27, 120.16, "", 4),
		mt("Wuhan", 30.59, 114.31, "", 3), mt("Nanjing", 32.06, 118.80, "", 3), mt("Xi'an", 34.34, 108.94, "", 3),
		mt("Chongqing", 29.56, 106.55, "", 3), mt("Tianjin", 39.34, 117.36, "", 2), mt("Shenyang", 41.81, 123.43, "", 2),
		mt("Harbin", 45.80, 126.53, "", 1.5), mt("Qingdao", 36.07, 120.38, "", 2), mt("Zhengzhou", 34.75, 113.63, "", 2),
		mt("Changsha", 28.23, 112.94, "", 2), mt("Kunming", 25.04, 102.71, "", 1.5), mt("Fuzhou", 26.07, 119.30, "", 1.5),
		mt("Jinan", 36.65, 117.12, "", 1.5), mt("Urumqi", 43.83, 87.62, "Asia/Urumqi", 0.7),
	}},
	{"JP", "Japan", "AS", "apnic", 190, []metro{
		mt("Tokyo", 35.68, 139.69, "Asia/Tokyo", 14), mt("Osaka", 34.69, 135.50, "", 6), mt("Nagoya", 35.18, 136.91, "", 3),
		mt("Yokohama", 35.44, 139.64, "", 3), mt("Fukuoka", 33.59, 130.40, "", 2), mt("Sapporo", 43.06, 141.35, "", 2),
		mt("Sendai", 38.27, 140.87, "", 1.5), mt("Hiroshima", 34.39, 132.46, "", 1.2), mt("Kyoto", 35.01, 135.77, "", 1.5),
	}},
	{"KR", "South Korea", "AS", "apnic", 110, []metro{
		mt("Seoul", 37.57, 126.98, "Asia/Seoul", 10), mt("Busan", 35.18, 129.08, "", 3), mt("Incheon", 37.46, 126.71, "", 2),
		mt("Daegu", 35.87, 128.60, "", 1.5), mt("Daejeon", 36.35, 127.38, "", 1.2), mt("Gwangju", 35.16, 126.85, "", 1),
	}},
	{"IN", "India", "AS", "apnic", 45, []metro{
		mt("Mumbai", 19.08, 72.88, "Asia/Kolkata", 6), mt("Delhi", 28.61, 77.21, "", 6), mt("Bengaluru", 12.97, 77.59, "", 5),
		mt("Chennai", 13.08, 80.27, "", 3), mt("Hyderabad", 17.39, 78.49, "", 3), mt("Kolkata", 22.57, 88.36, "", 3),
		mt("Pune", 18.52, 73.86, "", 2), mt("Ahmedabad", 23.02, 72.57, "", 2), mt("Jaipur", 26.91, 75.79, "", 1),
		mt("Lucknow", 26.85, 80.95, "", 1),
	}},
	{"TW", "Taiwan", "AS", "apnic", 35, []metro{
		mt("Taipei", 25.03, 121.57, "Asia/Taipei", 6), mt("Kaohsiung", 22.63, 120.30, "", 2), mt("Taichung", 24.15, 120.67, "", 2),
	}},
	{"HK", "Hong Kong", "AS", "apnic", 13, []metro{mt("Hong Kong", 22.32, 114.17, "Asia/Hong_Kong", 1)}},
	{"SG", "Singapore", "AS", "apnic", 8, []metro{mt("Singapore", 1.35, 103.82, "Asia/Singapore", 1)}},
	{"ID", "Indonesia", "AS", "apnic", 18, []metro{
		mt("Jakarta", -6.21, 106.85, "Asia/Jakarta", 6), mt("Surabaya", -7.25, 112.75, "", 2), mt("Bandung", -6.92, 107.62, "", 1.5),
		mt("Medan", 3.60, 98.67, "", 1),
	}},
	{"TH", "Thailand", "AS", "apnic", 10, []metro{mt("Bangkok", 13.76, 100.50, "Asia/Bangkok", 6), mt("Chiang Mai", 18.79, 98.98, "", 1)}},
	{"VN", "Vietnam", "AS", "apnic", 15, []metro{
		mt("Ho Chi Minh City", 10.82, 106.63, "Asia/Ho_Chi_Minh", 5), mt("Hanoi", 21.03, 105.85, "", 4), mt("Da Nang", 16.05, 108.20, "", 1),
	}},
	{"MY", "Malaysia", "AS", "apnic", 7, []metro{mt("Kuala Lumpur", 3.14, 101.69, "Asia/Kuala_Lumpur", 5), mt("Penang", 5.41, 100.33, "", 1)}},
	{"PH", "Philippines", "AS", "apnic", 6, []metro{mt("Manila", 14.60, 120.98, "Asia/Manila", 5), mt("Cebu", 10.32, 123.89, "", 1)}},
	{"PK", "Pakistan", "AS", "apnic", 5, []metro{
		mt("Karachi", 24.86, 67.01, "Asia/Karachi", 3), mt("Lahore", 31.55, 74.34, "", 2), mt("Islamabad", 33.68, 73.05, "", 1),
	}},
	{"BD", "Bangladesh", "AS", "apnic", 3, []metro{mt("Dhaka", 23.81, 90.41, "Asia/Dhaka", 1)}},
	{"IR", "Iran", "AS", "ripe", 10, []metro{
		mt("Tehran", 35.69, 51.39, "Asia/Tehran", 5), mt("Mashhad", 36.30, 59.61, "", 1), mt("Isfahan", 32.65, 51.67, "", 1),
	}},
	{"TR", "Turkey", "AS", "ripe", 18, []metro{
		mt("Istanbul", 41.01, 28.98, "Europe/Istanbul", 6), mt("Ankara", 39.93, 32.86, "", 2), mt("Izmir", 38.42, 27.14, "", 1.5),
	}},
	{"SA", "Saudi Arabia", "AS", "ripe", 8, []metro{
		mt("Riyadh", 24.71, 46.68, "Asia/Riyadh", 3), mt("Jeddah", 21.49, 39.19, "", 2), mt("Dammam", 26.43, 50.10, "", 1),
	}},
	{"AE", "United Arab Emirates", "AS", "ripe", 5, []metro{mt("Dubai", 25.20, 55.27, "Asia/Dubai", 3), mt("Abu Dhabi", 24.45, 54.38, "", 2)}},
	{"IL", "Israel", "AS", "ripe", 6, []metro{
		mt("Tel Aviv", 32.09, 34.78, "Asia/Jerusalem", 4), mt("Jerusalem", 31.77, 35.21, "", 1), mt("Haifa", 32.79, 34.99, "", 1),
	}},
	{"KZ", "Kazakhstan", "AS", "ripe", 3, []metro{mt("Almaty", 43.24, 76.89, "Asia/Almaty", 2), mt("Astana", 51.17, 71.45, "", 1)}},

	// Oceania (APNIC).
	{"AU", "Australia", "OC", "apnic", 50, []metro{
		mt("Sydney", -33.87, 151.21, "Australia/Sydney", 6), mt("Melbourne", -37.81, 144.96, "Australia/Melbourne", 5),
		mt("Brisbane", -27.47, 153.03, "Australia/Brisbane", 3), mt("Perth", -31.95, 115.86, "Australia/Perth", 2),
		mt("Adelaide", -34.93, 138.60, "Australia/Adelaide", 1.5), mt("Canberra", -35.28, 149.13, "Australia/Sydney", 0.7),
	}},
	{"NZ", "New Zealand", "OC", "apnic", 8, []metro{
		mt("Auckland", -36.85, 174.76, "Pacific/Auckland", 4), mt("Wellington", -41.29, 174.78, "", 1.5),
		mt("Christchurch", -43.53, 172.64, "", 1),
	}},
	{"FJ", "Fiji", "OC", "apnic", 0.3, []metro{mt("Suva", -18.14, 178.44, "Pacific/Fiji", 1)}},
	{"PG", "Papua New Guinea", "OC", "apnic", 0.3, []metro{mt("Port Moresby", -9.44, 147.18, "Pacific/Port_Moresby", 1)}},

	// Africa (AFRINIC).
	{"ZA", "South Africa", "AF", "afrinic", 25, []metro{
		mt("Johannesburg", -26.20, 28.05, "Africa/Johannesburg", 5), mt("Cape Town", -33.92, 18.42, "", 3),
		mt("Durban", -29.86, 31.02, "", 2), mt("Pretoria", -25.75, 28.19, "", 1.5),
	}},
	{"EG", "Egypt", "AF", "afrinic", 20, []metro{mt("Cairo", 30.04, 31.24, "Africa/Cairo", 6), mt("Alexandria", 31.20, 29.92, "", 2)}},
	{"MA", "Morocco", "AF", "afrinic", 7, []metro{
		mt("Casablanca", 33.57, -7.59, "Africa/Casablanca", 3), mt("Rabat", 34.02, -6.83, "", 1), mt("Marrakesh", 31.63, -8.01, "", 1),
	}},
	{"NG", "Nigeria", "AF", "afrinic", 6, []metro{
		mt("Lagos", 6.52, 3.38, "Africa/Lagos", 4), mt("Abuja", 9.08, 7.40, "", 1.5), mt("Kano", 12.00, 8.52, "", 0.7),
	}},
	{"KE", "Kenya", "AF", "afrinic", 5, []metro{mt("Nairobi", -1.29, 36.82, "Africa/Nairobi", 4), mt("Mombasa", -4.04, 39.67, "", 1)}},
	{"TN", "Tunisia", "AF", "afrinic", 4, []metro{mt("Tunis", 36.81, 10.18, "Africa/Tunis", 1)}},
	{"DZ", "Algeria", "AF", "afrinic", 5, []metro{mt("Algiers", 36.75, 3.06, "Africa/Algiers", 3), mt("Oran", 35.70, -0.63, "", 1)}},
	{"GH", "Ghana", "AF", "afrinic", 2, []metro{mt("Accra", 5.60, -0.19, "Africa/Accra", 1)}},
	{"ET", "Ethiopia", "AF", "afrinic", 1, []metro{mt("Addis Ababa", 9.03, 38.74, "Africa/Addis_Ababa", 1)}},
	{"TZ", "Tanzania", "AF", "afrinic", 1, []metro{mt("Dar es Salaam", -6.79, 39.21, "Africa/Dar_es_Salaam", 1)}},
}

// continentInfo holds the GeoIP2 names and geoname ids of the continents.
var continentInfo = map[string]struct {
	name string
	id   uint32
}{
	"AF": {"Africa", 6255146}, "AS": {"Asia", 6255147}, "EU": {"Europe", 6255148},
	"NA": {"North America", 6255149}, "OC": {"Oceania", 6255151}, "SA": {"South America", 6255150},
}

func init() {
	// Fill in the time zones left empty: a metro without one uses the
	// country's first metro's zone.
	for i := range world {
		for j := range world[i].metros {
			if world[i].metros[j].tz == "" {
				world[i].metros[j].tz = world[i].metros[0].tz
			}
		}
	}
}

// countryIndex returns the world index of an ISO code.
func countryIndex(cc string) int16 {
	for i, c := range world {
		if c.cc == cc {
			return int16(i)
		}
	}
	panic("no country " + cc)
}
