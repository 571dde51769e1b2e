// Fills an empty database with a generated hotel database of about `scale` GB on disk, for the backup
// benchmarks: jsonb, bytea, text arrays, free text, numerics, timestamptz, an enum and bookings partitioned by
// month, with compressibility like real data (text from a vocabulary, ids and hashes that do not compress).
// Usage: node dist/test/bench/generate-hotel-db.js URL [--scale GB]
import { pathToFileURL } from 'node:url';
import pg from 'pg';

export interface GenerateOptions {
  /** Roughly the size on disk in GB (pg_database_size); row counts scale linearly. Default 1. */
  scale?: number;
  /** Statements run on this many connections at once. Default 2. */
  connections?: number;
  log?: (line: string) => void;
}

export interface GeneratedDb {
  /** pg_database_size after generation, VACUUM and CHECKPOINT. */
  databaseBytes: number;
  rows: Record<string, number>;
  seconds: number;
}

// Row counts at scale 1, calibrated so that pg_database_size is a little over 1 GB (1.06 GB with PostgreSQL 15)
// and the dump's shape resembles BENCHMARKS.md's database: `pg_dump -Fc -Z0` about 0.8 of the size on disk,
// gzip -1 about 3.7× smaller, gzip -6 about 4.5× (BENCHMARKS.md: 0.74, 3.9×, 4.5×).
const PER_GB = {
  hotels: 2_000,
  roomsPerHotel: 40,
  guests: 370_000,
  bookings: 1_270_000,
  reviews: 155_000,
  documents: 7_400,
};
const FIRST_MONTH = '2024-01-01';
const MONTHS = 36;
const PHRASES = 20_000;

export async function generateHotelDb(url: string, options: GenerateOptions = {}): Promise<GeneratedDb> {
  const scale = options.scale ?? 1;
  if (!(scale > 0)) throw new Error(`scale must be a positive number of GB, got ${scale}`);
  const log = options.log ?? (() => {});
  const started = performance.now();
  const n = {
    hotels: Math.max(10, Math.round(PER_GB.hotels * scale)),
    guests: Math.max(100, Math.round(PER_GB.guests * scale)),
    bookings: Math.max(1_000, Math.round(PER_GB.bookings * scale)),
    reviews: Math.max(100, Math.round(PER_GB.reviews * scale)),
    documents: Math.max(10, Math.round(PER_GB.documents * scale)),
  };
  const rooms = n.hotels * PER_GB.roomsPerHotel;

  const clients = await Promise.all(Array.from({ length: options.connections ?? 2 }, () => connect(url)));
  try {
    const [first] = clients;
    const existing = await first!.query(`SELECT to_regclass('public.hotels') IS NOT NULL AS taken`);
    if (existing.rows[0].taken) throw new Error('the database already holds a hotels table: generate into a new, empty database');

    log(`schema, and ${PHRASES} phrases to build text from`);
    await first!.query(schemaSql());
    await first!.query('INSERT INTO gen_words SELECT i, w FROM unnest($1::text[]) WITH ORDINALITY AS t(w, i)', [WORDS]);
    await first!.query(phrasesSql());

    const jobs: Job[] = [
      { label: 'hotels', sql: hotelsSql(), params: [n.hotels, CITIES, CHAINS, AMENITIES] },
      { label: 'rooms', sql: roomsSql(), params: [n.hotels, PER_GB.roomsPerHotel, ROOM_FEATURES] },
      ...chunks(n.guests, 4).map(([lo, hi]) => ({
        label: `guests ${lo}-${hi}`,
        sql: guestsSql(),
        params: [lo, hi, FIRST_NAMES, LAST_NAMES, DOMAINS, COUNTRIES, GUEST_TAGS, n.guests],
      })),
      ...chunks(n.bookings, 8).map(([lo, hi]) => ({
        label: `bookings ${lo}-${hi}`,
        sql: bookingsSql(),
        params: [lo, hi, rooms, n.guests, PER_GB.roomsPerHotel, n.bookings],
      })),
      ...chunks(n.reviews, 2).map(([lo, hi]) => ({
        label: `reviews ${lo}-${hi}`,
        sql: reviewsSql(),
        params: [lo, hi, n.hotels, n.guests, n.bookings, n.reviews],
      })),
      { label: 'guest documents', sql: documentsSql(), params: [n.documents, n.guests] },
    ];
    await runJobs(clients, jobs, log);

    log('constraints and indexes');
    await runJobs(clients, indexJobs(), log);
    await runJobs(clients, foreignKeyJobs(), log);
    await first!.query('DROP TABLE gen_phrases, gen_words');
    const rowCounts = { hotels: n.hotels, rooms, guests: n.guests, bookings: n.bookings, reviews: n.reviews, guest_documents: n.documents };
    for (const [table, value] of Object.entries(rowCounts)) {
      await first!.query(`SELECT setval(pg_get_serial_sequence($1, 'id'), $2)`, [table, value]);
    }

    // Frozen, hinted pages: later pg_dump runs read the heap without writing hint bits back.
    log('vacuum (freeze, analyze) and checkpoint');
    await runJobs(
      clients,
      ['bookings', 'guests', 'reviews', 'rooms', 'hotels', 'guest_documents'].map((table) => ({ label: `vacuum ${table}`, sql: `VACUUM (FREEZE, ANALYZE) ${table}` })),
      log,
    );
    await first!.query('CHECKPOINT');
    const size = await first!.query<{ bytes: string }>('SELECT pg_database_size(current_database())::text AS bytes');
    return {
      databaseBytes: Number(size.rows[0]!.bytes),
      rows: rowCounts,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    await Promise.all(clients.map((c) => c.end().catch(() => {})));
  }
}

interface Job {
  label: string;
  sql: string;
  params?: unknown[];
}

async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  await client.connect();
  // Bulk loading: a lost commit costs nothing here, and the loads are big enough for wide memory.
  await client.query(`SET synchronous_commit = off; SET maintenance_work_mem = '256MB'; SET work_mem = '64MB'`);
  return client;
}

/** Runs the jobs in order, each on the next free connection. */
async function runJobs(clients: pg.Client[], jobs: Job[], log: (line: string) => void): Promise<void> {
  const queue = [...jobs];
  let failed = false;
  await Promise.all(
    clients.map(async (client) => {
      for (let job = queue.shift(); job !== undefined && !failed; job = queue.shift()) {
        const started = performance.now();
        try {
          await client.query(job.sql, job.params);
        } catch (error) {
          failed = true;
          throw new Error(`generating ${job.label}: ${(error as Error).message}`, { cause: error });
        }
        log(`  ${job.label}: ${((performance.now() - started) / 1000).toFixed(1)} s`);
      }
    }),
  );
}

/** [lo, hi] id ranges splitting 1..total into `parts` pieces. */
function chunks(total: number, parts: number): [number, number][] {
  const size = Math.ceil(total / parts);
  const out: [number, number][] = [];
  for (let lo = 1; lo <= total; lo += size) out.push([lo, Math.min(total, lo + size - 1)]);
  return out;
}

// ---- schema ----

function schemaSql(): string {
  const partitions: string[] = [];
  for (let m = 0; m < MONTHS; m++) {
    const from = `(date '${FIRST_MONTH}' + interval '${m} month')::date`;
    const name = `bookings_${monthLabel(m)}`;
    partitions.push(`EXECUTE format('CREATE TABLE ${name} PARTITION OF bookings FOR VALUES FROM (%L) TO (%L)', ${from}, (${from} + interval '1 month')::date);`);
  }
  return `
    CREATE TYPE booking_status AS ENUM ('tentative', 'confirmed', 'checked_in', 'checked_out', 'cancelled', 'no_show');
    CREATE TABLE hotels (
      id integer GENERATED BY DEFAULT AS IDENTITY, name text NOT NULL, chain text, country char(2) NOT NULL,
      city text NOT NULL, address jsonb NOT NULL, stars smallint NOT NULL, rating numeric(3,2),
      amenities text[] NOT NULL, description text NOT NULL, check_in_from time NOT NULL, created_at timestamptz NOT NULL);
    CREATE TABLE rooms (
      id integer GENERATED BY DEFAULT AS IDENTITY, hotel_id integer NOT NULL, room_number text NOT NULL,
      room_type text NOT NULL, beds smallint NOT NULL, max_guests smallint NOT NULL, base_rate numeric(10,2) NOT NULL,
      features text[] NOT NULL, area_m2 numeric(6,1), last_renovated date);
    CREATE TABLE guests (
      id bigint GENERATED BY DEFAULT AS IDENTITY, first_name text NOT NULL, last_name text NOT NULL, email text NOT NULL,
      phone text, birth_date date, nationality char(2), loyalty_tier text NOT NULL, loyalty_points integer NOT NULL,
      preferences jsonb NOT NULL, tags text[] NOT NULL, password_hash bytea, created_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL);
    CREATE TABLE bookings (
      id bigint GENERATED BY DEFAULT AS IDENTITY, hotel_id integer NOT NULL, room_id integer NOT NULL,
      guest_id bigint NOT NULL, check_in date NOT NULL, check_out date NOT NULL, status booking_status NOT NULL,
      adults smallint NOT NULL, children smallint NOT NULL, nightly_rate numeric(10,2) NOT NULL,
      total_amount numeric(12,2) NOT NULL, currency char(3) NOT NULL, channel text NOT NULL, extras jsonb NOT NULL, nightly jsonb NOT NULL,
      special_requests text, payment_token bytea, created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL)
      PARTITION BY RANGE (check_in);
    DO $$ BEGIN ${partitions.join('\n')} END $$;
    CREATE TABLE bookings_other PARTITION OF bookings DEFAULT;
    CREATE TABLE reviews (
      id bigint GENERATED BY DEFAULT AS IDENTITY, hotel_id integer NOT NULL, guest_id bigint NOT NULL,
      booking_id bigint, score smallint NOT NULL, title text NOT NULL, body text NOT NULL, language char(2) NOT NULL,
      hotel_response text, helpful_votes integer NOT NULL, created_at timestamptz NOT NULL);
    CREATE TABLE guest_documents (
      id bigint GENERATED BY DEFAULT AS IDENTITY, guest_id bigint NOT NULL, kind text NOT NULL, file_name text NOT NULL,
      mime_type text NOT NULL, content bytea NOT NULL, sha256 bytea NOT NULL, uploaded_at timestamptz NOT NULL);
    ALTER TABLE guest_documents ALTER COLUMN content SET STORAGE EXTERNAL;
    CREATE TABLE gen_words (id integer PRIMARY KEY, word text NOT NULL);
    CREATE TABLE gen_phrases (id integer PRIMARY KEY, txt text NOT NULL);`;
}

function monthLabel(m: number): string {
  const year = 2024 + Math.floor(m / 12);
  return `${year}_${String((m % 12) + 1).padStart(2, '0')}`;
}

// ---- data ----

/**
 * Phrases of 6–19 words, capitalised, ending in a full stop: the material of all free text. Words are drawn
 * skewed towards the start of the list (the common ones), as in real text, which is what makes text compress.
 */
function phrasesSql(): string {
  return `
    INSERT INTO gen_phrases
    SELECT p, upper(left(s, 1)) || substr(s, 2) || '.'
      FROM (SELECT p, (SELECT string_agg(w.word, ' ' ORDER BY k)
                         FROM generate_series(1, 6 + p % 14) k
                         JOIN gen_words w ON w.id = 1 + floor(${WORDS.length} * power((hashint4(p * 31 + k) & 2147483647) / 2147483648.0, 3))::int) AS s
              FROM generate_series(1, ${PHRASES}) p) x`;
}

// A phrase id from a random number: `phrase(expr)` where expr is in [0, 1).
const phrase = (r: string) => `(1 + floor((${r}) * ${PHRASES - 1})::int)`;
const pick = (param: string, r: string) => `(${param})[1 + floor((${r}) * cardinality(${param}))::int]`;

function hotelsSql(): string {
  // $1 count, $2 "city|CC" list, $3 chains, $4 amenities
  return `
    INSERT INTO hotels (id, name, chain, country, city, address, stars, rating, amenities, description, check_in_from, created_at)
    SELECT i, (ARRAY['Grand','Royal','Park','City','Harbour','Garden','Palace','Central','Riverside','Alpine'])[1 + i % 10]
              || ' ' || split_part(c, '|', 1) || ' ' || (ARRAY['Hotel','Inn','Suites','Resort','Lodge'])[1 + i % 5] || ' ' || i,
           CASE WHEN r1 < 0.6 THEN ${pick('$3::text[]', 'r2')} END, split_part(c, '|', 2), split_part(c, '|', 1),
           jsonb_build_object('street', (100 + i % 900) || ' ' || ${pick('$3::text[]', 'r3')} || ' Street', 'zip', lpad((i * 7919 % 99999)::text, 5, '0'),
                              'geo', jsonb_build_object('lat', round((r1 * 120 - 60)::numeric, 6), 'lng', round((r2 * 360 - 180)::numeric, 6))),
           1 + floor(r3 * 5)::smallint, round((5 + r1 * 4.9)::numeric, 2),
           coalesce((SELECT array_agg(a ORDER BY a) FROM unnest($4::text[]) a WHERE hashint4(i + length(a)) % 3 = 0), '{}'),
           p1.txt || ' ' || p2.txt || ' ' || p3.txt || ' ' || p4.txt, time '14:00' + (i % 3) * interval '1 hour',
           timestamptz '2015-01-01' + r2 * interval '3000 days'
      FROM (SELECT i, random() r1, random() r2, random() r3, ${pick('$2::text[]', 'random()')} c FROM generate_series(1, $1) i) s
      JOIN gen_phrases p1 ON p1.id = ${phrase('r1')} JOIN gen_phrases p2 ON p2.id = ${phrase('r2')}
      JOIN gen_phrases p3 ON p3.id = ${phrase('r3')} JOIN gen_phrases p4 ON p4.id = ${phrase('(r1 + r2) / 2')}`;
}

function roomsSql(): string {
  // $1 hotels, $2 rooms per hotel, $3 features
  return `
    INSERT INTO rooms (id, hotel_id, room_number, room_type, beds, max_guests, base_rate, features, area_m2, last_renovated)
    SELECT (h - 1) * $2 + k, h, (1 + k / 20)::text || lpad((k % 20)::text, 2, '0'), t,
           CASE t WHEN 'single' THEN 1 WHEN 'suite' THEN 3 ELSE 2 END, CASE t WHEN 'single' THEN 1 WHEN 'family' THEN 5 ELSE 2 END,
           round((45 + random() * 400)::numeric, 2), ($3::text[])[1 + floor(r * 4)::int : 2 + floor(r * 9)::int],
           round((12 + random() * 60)::numeric, 1), date '2005-01-01' + floor(random() * 7000)::int
      FROM generate_series(1, $1) h, generate_series(1, $2) k,
           LATERAL (SELECT (ARRAY['single','double','twin','family','suite','deluxe'])[1 + (h + k) % 6] t, random() r) x`;
}

function guestsSql(): string {
  // $1 lo, $2 hi, $3 first names, $4 last names, $5 mail domains, $6 countries, $7 tags, $8 guests
  return `
    INSERT INTO guests (id, first_name, last_name, email, phone, birth_date, nationality, loyalty_tier, loyalty_points,
                        preferences, tags, password_hash, created_at, updated_at)
    SELECT g, f, l, lower(f || '.' || l || g % 1000 || '@' || ${pick('$5::text[]', 'r3')}),
           '+' || (30 + floor(r1 * 60)::int) || ' ' || lpad(floor(random() * 1e9)::text, 9, '0'),
           date '1940-01-01' + floor(r2 * 25000)::int, ${pick('$6::text[]', 'r1')},
           CASE WHEN r2 < 0.7 THEN 'member' WHEN r2 < 0.9 THEN 'silver' WHEN r2 < 0.98 THEN 'gold' ELSE 'platinum' END,
           floor(r3 * r3 * 250000)::int,
           jsonb_build_object('pillow', (ARRAY['soft','medium','firm'])[1 + floor(r1 * 3)::int],
                              'floor', (ARRAY['low','high','any'])[1 + floor(r2 * 3)::int], 'newsletter', r3 < 0.4,
                              'language', lower(${pick('$6::text[]', 'r2')}), 'room', (ARRAY['quiet','near lift','sea view','any'])[1 + floor(r3 * 4)::int],
                              'dietary', CASE WHEN r1 < 0.15 THEN '["vegetarian"]'::jsonb WHEN r1 < 0.2 THEN '["gluten-free","no nuts"]'::jsonb ELSE '[]'::jsonb END),
           ($7::text[])[1 + floor(r1 * 6)::int : floor(r1 * 6)::int + floor(r3 * 4)::int],
           CASE WHEN r3 < 0.4 THEN sha256(int8send(g)) END,
           c, CASE WHEN r2 < 0.5 THEN c ELSE c + r1 * interval '400 days' END
      FROM (SELECT g, random() r1, random() r2, random() r3, ${pick('$3::text[]', 'random()')} f, ${pick('$4::text[]', 'random()')} l,
                   timestamptz '2016-01-01' + (g::float8 / $8) * interval '3600 days' + random() * interval '1 hour' c
              FROM generate_series($1::bigint, $2::bigint) g) s`;
}

function bookingsSql(): string {
  // $1 lo, $2 hi, $3 rooms, $4 guests, $5 rooms per hotel, $6 bookings. Rows arrive in the order they were
  // booked, as in a live table: created_at grows with the id, check-in is up to half a year later.
  return `
    INSERT INTO bookings (id, hotel_id, room_id, guest_id, check_in, check_out, status, adults, children, nightly_rate,
                          total_amount, currency, channel, extras, nightly, special_requests, payment_token, created_at, updated_at)
    SELECT g, (room - 1) / $5 + 1, room, guest, ci, ci + nights,
           (CASE WHEN ci > date '2026-06-01' THEN CASE WHEN r1 < 0.9 THEN 'confirmed' ELSE 'tentative' END
                 WHEN r1 < 0.78 THEN 'checked_out' WHEN r1 < 0.93 THEN 'cancelled' WHEN r1 < 0.96 THEN 'no_show'
                 ELSE 'checked_in' END)::booking_status,
           1 + floor(r2 * 3)::int, CASE WHEN r2 > 0.7 THEN floor(r3 * 3)::int ELSE 0 END, rate, rate * nights,
           (ARRAY['EUR','EUR','EUR','USD','GBP','CHF'])[1 + floor(r3 * 6)::int], channel,
           jsonb_strip_nulls(jsonb_build_object('breakfast', r2 < 0.55, 'parking', r3 > 0.8,
                              'rate_plan', (ARRAY['BAR','BAR','NONREF','ADV14','CORP','PKG'])[1 + floor(r1 * 6)::int],
                              'late_checkout', CASE WHEN r3 < 0.08 THEN '14:00' END,
                              'channel_ref', CASE WHEN channel IN ('booking.com', 'expedia') THEN upper(substr(md5(g::text), 1, 10)) END,
                              'cancellation', jsonb_build_object('free_until', ci - 2, 'fee_pct', (ARRAY[0, 0, 50, 100])[1 + floor(r1 * 4)::int]))),
           (SELECT jsonb_agg(jsonb_build_object('date', ci + d, 'rate', rate))
              FROM generate_series(0, nights - 1) d),
           CASE WHEN r4 < 0.3 THEN p.txt END, CASE WHEN r2 > 0.7 THEN decode(md5(g::text || 'tok'), 'hex') END,
           made, CASE WHEN r4 < 0.6 THEN made ELSE made + r4 * interval '20 days' END
      FROM (SELECT g, 1 + floor(random() * $3)::int room, 1 + floor(random() * $4)::bigint guest,
                   (79 + 10 * floor(random() * 30))::numeric(10,2) rate, 1 + floor(random() * random() * 14)::int nights,
                   random() r1, random() r2, random() r3, random() r4,
                   timestamptz '2023-11-15' + (g::float8 / $6) * interval '${Math.round(MONTHS * 30.4 - 90)} days' + random() * interval '15 minutes' made
              FROM generate_series($1::bigint, $2::bigint) g) s
      CROSS JOIN LATERAL (SELECT made::date + floor(r3 * r3 * 180)::int ci,
                                 (ARRAY['direct','direct','booking.com','booking.com','expedia','phone','walk-in','travel agent','corporate'])[1 + floor(r2 * 9)::int] channel) c
      LEFT JOIN gen_phrases p ON p.id = ${phrase('r4 / 0.3')} AND r4 < 0.3`;
}

function reviewsSql(): string {
  // $1 lo, $2 hi, $3 hotels, $4 guests, $5 bookings, $6 reviews
  return `
    INSERT INTO reviews (id, hotel_id, guest_id, booking_id, score, title, body, language, hotel_response, helpful_votes, created_at)
    SELECT g, 1 + floor(r1 * $3)::int, 1 + floor(r2 * $4)::bigint, CASE WHEN r3 < 0.9 THEN 1 + floor(r3 * $5)::bigint END,
           1 + floor(sqrt(r4) * 10)::int, left(t.txt, 40), p1.txt || ' ' || p2.txt || ' ' || p3.txt || ' ' || p4.txt || ' ' || p5.txt,
           (ARRAY['en','en','en','de','fr','es','it','nl'])[1 + floor(r2 * 8)::int],
           CASE WHEN r4 < 0.25 THEN 'Dear guest, ' || lower(p6.txt) || ' Kind regards, the front office team.' END,
           floor(r3 * r3 * 40)::int, timestamptz '2024-01-15' + (g::float8 / $6) * interval '1000 days' + r1 * interval '1 hour'
      FROM (SELECT g, random() r1, random() r2, random() r3, random() r4 FROM generate_series($1::bigint, $2::bigint) g) s
      JOIN gen_phrases t ON t.id = ${phrase('r4')} JOIN gen_phrases p1 ON p1.id = ${phrase('r1')}
      JOIN gen_phrases p2 ON p2.id = ${phrase('r2')} JOIN gen_phrases p3 ON p3.id = ${phrase('r3')}
      JOIN gen_phrases p4 ON p4.id = ${phrase('(r1 + r3) / 2')} JOIN gen_phrases p5 ON p5.id = ${phrase('(r2 + r4) / 2')}
      JOIN gen_phrases p6 ON p6.id = ${phrase('(r1 + r4) / 2')}`;
}

function documentsSql(): string {
  // $1 count, $2 guests. The content stands for scanned passports (JPEG): incompressible, 1–5 KB.
  return `
    INSERT INTO guest_documents (id, guest_id, kind, file_name, mime_type, content, sha256, uploaded_at)
    SELECT i, 1 + floor(r * $2)::bigint, (ARRAY['passport','id_card','visa','invoice'])[1 + i % 4],
           'scan_' || i || '.jpg', 'image/jpeg', content, sha256(content), timestamptz '2024-01-01' + r * interval '1000 days'
      FROM (SELECT i, random() r FROM generate_series(1, $1) i) s,
           LATERAL (SELECT '\\xffd8ffe0'::bytea || string_agg(sha256(int8send(i * 1000 + k)), ''::bytea) content
                      FROM generate_series(1, 32 + (i * 7) % 128) k) c`;
}

function indexJobs(): Job[] {
  return [
    ['bookings pk', 'ALTER TABLE bookings ADD PRIMARY KEY (id, check_in)'],
    ['guests pk', 'ALTER TABLE guests ADD PRIMARY KEY (id)'],
    ['bookings by guest', 'CREATE INDEX bookings_guest ON bookings (guest_id)'],
    ['guests by email', 'CREATE UNIQUE INDEX guests_email ON guests (email, id)'],
    ['bookings by hotel', 'CREATE INDEX bookings_hotel_dates ON bookings (hotel_id, check_in)'],
    ['reviews pk', 'ALTER TABLE reviews ADD PRIMARY KEY (id)'],
    ['reviews by hotel', 'CREATE INDEX reviews_hotel ON reviews (hotel_id, created_at)'],
    ['guest tags', 'CREATE INDEX guests_tags ON guests USING gin (tags)'],
    ['hotels, rooms, documents', `ALTER TABLE hotels ADD PRIMARY KEY (id); ALTER TABLE rooms ADD PRIMARY KEY (id);
      ALTER TABLE rooms ADD UNIQUE (hotel_id, room_number); ALTER TABLE guest_documents ADD PRIMARY KEY (id);
      CREATE INDEX guest_documents_guest ON guest_documents (guest_id); CREATE INDEX hotels_amenities ON hotels USING gin (amenities)`],
  ].map(([label, sql]) => ({ label: label!, sql: sql! }));
}

function foreignKeyJobs(): Job[] {
  return [
    ['bookings → guests', 'ALTER TABLE bookings ADD FOREIGN KEY (guest_id) REFERENCES guests'],
    ['bookings → rooms', 'ALTER TABLE bookings ADD FOREIGN KEY (room_id) REFERENCES rooms'],
    ['reviews, rooms, documents', `ALTER TABLE reviews ADD FOREIGN KEY (hotel_id) REFERENCES hotels;
      ALTER TABLE reviews ADD FOREIGN KEY (guest_id) REFERENCES guests; ALTER TABLE rooms ADD FOREIGN KEY (hotel_id) REFERENCES hotels;
      ALTER TABLE guest_documents ADD FOREIGN KEY (guest_id) REFERENCES guests`],
  ].map(([label, sql]) => ({ label: label!, sql: sql! }));
}

// ---- vocabulary ----

const WORDS = `the a an and but with very quite really rather room rooms bed beds bathroom shower breakfast buffet staff
reception front desk clean spotless dirty noisy quiet view views sea city garden pool spa gym sauna location central
close near far from station airport beach old town restaurant bar coffee tea fresh bread eggs fruit juice friendly
helpful polite rude slow fast check in out early late parking garage car bike walk minutes price value money expensive
cheap reasonable stay stayed night nights weekend business trip family kids children couple honeymoon anniversary
comfortable uncomfortable pillow pillows mattress towels linen wifi signal weak strong air conditioning heating window
balcony terrace rooftop elevator stairs floor upgrade suite double twin single booked booking reservation confirmed
cancelled refund invoice receipt manager housekeeping maintenance light lamp curtain blackout street traffic tram bus
taxi shuttle concierge luggage storage safe minibar kettle fridge microwave kitchen towel robe slippers toiletries
shampoo soap hairdryer iron ironing laundry service dinner lunch menu wine beer cocktail happy hour lobby decor modern
classic tired renovated stylish cosy spacious small tiny large huge bright dark smell smoke nonsmoking pet dog allowed
accessible wheelchair ramp would recommend again definitely never return next time overall experience great good
excellent fantastic amazing perfect poor terrible awful average okay fine nice lovely beautiful charming historic
building area neighbourhood shops museum park river lake mountain ski conference meeting wedding event group tour
guide map advice tips local we our us they their was were is are had have did not no yes also even though because
when while after before during every each all some many few more most less least only just still already`
  .split(/\s+/)
  .filter((w) => w !== '');

const FIRST_NAMES = `Anna Ben Carla David Elena Felix Greta Hugo Ines Jonas Katrin Lukas Maria Noah Olga Paul Quentin Rosa Sven
Tara Ulrich Vera William Xenia Yusuf Zoe Ahmed Beatriz Chen Dmitri Emma Farah Giulia Hiroshi Isabel Jamal Kofi Lena
Mateo Nadia Oscar Priya Rahul Sofia Tomas Uma Viktor Wei Yara Amelie Bruno Clara Dario Elif Fatima Gabriel`
  .split(/\s+/)
  .filter((w) => w !== '');
const LAST_NAMES = `Müller Schmidt Rossi Garcia Martin Dubois Smith Jones Novak Kowalski Jensen Nielsen Silva Santos Costa
Papadopoulos Yilmaz Kaya Ivanov Petrov Tanaka Suzuki Kim Lee Wang Li Nguyen Tran Haddad Khan Patel Singh O'Brien
Murphy Fischer Weber Becker Hoffmann Schulz Bianchi Romano Lopez Fernandez Moreau Laurent Berg Lindqvist Virtanen
Horvat Popescu Nagy Cohen Levi`
  .split(/\s+/)
  .filter((w) => w !== '');
const DOMAINS = ['gmail.com', 'outlook.com', 'yahoo.com', 'web.de', 'gmx.net', 'icloud.com', 'proton.me', 'orange.fr', 'libero.it', 'example.org'];
const COUNTRIES = ['DE', 'FR', 'IT', 'ES', 'GB', 'US', 'NL', 'CH', 'AT', 'PL', 'SE', 'JP', 'CN', 'IN', 'BR', 'TR', 'GR', 'PT', 'DK', 'IE'];
const CITIES = [
  'Berlin|DE', 'Munich|DE', 'Hamburg|DE', 'Paris|FR', 'Nice|FR', 'Lyon|FR', 'Rome|IT', 'Milan|IT', 'Venice|IT', 'Madrid|ES',
  'Barcelona|ES', 'Seville|ES', 'London|GB', 'Edinburgh|GB', 'New York|US', 'Chicago|US', 'Amsterdam|NL', 'Zurich|CH',
  'Geneva|CH', 'Vienna|AT', 'Krakow|PL', 'Stockholm|SE', 'Lisbon|PT', 'Porto|PT', 'Copenhagen|DK', 'Dublin|IE', 'Athens|GR',
  'Istanbul|TR', 'Tokyo|JP', 'Kyoto|JP',
];
const CHAINS = ['Meridian', 'Harbourview', 'Alpenrose', 'Stadtgarten', 'Bellavista', 'Northstar', 'Lindenhof', 'Casa Blanca'];
const AMENITIES = ['wifi', 'pool', 'spa', 'gym', 'parking', 'restaurant', 'bar', 'room service', 'airport shuttle', 'pets allowed', 'ev charging', 'sauna', 'kids club', 'conference rooms', 'laundry', 'rooftop terrace'];
const ROOM_FEATURES = ['balcony', 'sea view', 'city view', 'bathtub', 'rain shower', 'minibar', 'coffee machine', 'desk', 'sofa bed', 'kitchenette', 'accessible', 'connecting door'];
const GUEST_TAGS = ['vip', 'corporate', 'repeat', 'family', 'business', 'honeymoon', 'accessible', 'pet_owner', 'late_arrival'];

// ---- command line ----

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const url = args.find((a) => !a.startsWith('--') && args[args.indexOf(a) - 1] !== '--scale');
  const scaleAt = args.indexOf('--scale');
  const scale = scaleAt >= 0 ? Number(args[scaleAt + 1]) : 1;
  if (!url) {
    console.error('usage: node dist/test/bench/generate-hotel-db.js URL [--scale GB]');
    process.exit(2);
  }
  const result = await generateHotelDb(url, { scale, log: (line) => console.error(line) });
  console.log(
    `generated hotel database: ${(result.databaseBytes / 1e9).toFixed(2)} GB on disk (pg_database_size) in ${result.seconds.toFixed(0)} s; rows ${JSON.stringify(result.rows)}`,
  );
}
