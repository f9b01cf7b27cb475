--
-- PostgreSQL database dump
--

\restrict K1LVoSaC1e2x5a8maUVx42n4C95WwyVhCBAOHpJWde6W0TT2r8hX6m7Tf7vM0dG

-- Dumped from database version 15.20 (Debian 15.20-0+deb12u1)
-- Dumped by pg_dump version 15.20 (Debian 15.20-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Name: release_030; Type: SCHEMA; Schema: -; Owner: -
--

CREATE SCHEMA release_030;


SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: events; Type: TABLE; Schema: release_030; Owner: -
--

CREATE TABLE release_030.events (
    room character varying(64) NOT NULL,
    seq bigint NOT NULL,
    sender character varying(32) NOT NULL,
    text text NOT NULL,
    ts bigint NOT NULL,
    client_id character varying(128) NOT NULL,
    kind character varying(16) DEFAULT 'message'::character varying NOT NULL,
    data text
);


--
-- Name: invites; Type: TABLE; Schema: release_030; Owner: -
--

CREATE TABLE release_030.invites (
    code character varying(64) NOT NULL,
    created_by character varying(32) NOT NULL,
    created_ms bigint NOT NULL,
    expires_ms bigint NOT NULL,
    uses_left integer NOT NULL
);


--
-- Name: members; Type: TABLE; Schema: release_030; Owner: -
--

CREATE TABLE release_030.members (
    room character varying(64) NOT NULL,
    username character varying(32) NOT NULL,
    state character varying(16) NOT NULL,
    role character varying(16) DEFAULT 'member'::character varying NOT NULL,
    muted integer DEFAULT 0 NOT NULL,
    last_read bigint DEFAULT '0'::bigint NOT NULL
);


--
-- Name: rooms; Type: TABLE; Schema: release_030; Owner: -
--

CREATE TABLE release_030.rooms (
    name character varying(64) NOT NULL,
    last_seq bigint NOT NULL,
    created_ms bigint NOT NULL,
    visibility character varying(16) DEFAULT 'public'::character varying NOT NULL,
    topic text DEFAULT ''::text NOT NULL
);


--
-- Name: schema_version; Type: TABLE; Schema: release_030; Owner: -
--

CREATE TABLE release_030.schema_version (
    version integer NOT NULL
);


--
-- Name: settings; Type: TABLE; Schema: release_030; Owner: -
--

CREATE TABLE release_030.settings (
    key character varying(64) NOT NULL,
    value text NOT NULL
);


--
-- Name: users; Type: TABLE; Schema: release_030; Owner: -
--

CREATE TABLE release_030.users (
    id integer NOT NULL,
    name character varying(32) NOT NULL,
    name_key character varying(32) NOT NULL,
    password_hash text NOT NULL,
    created_ms bigint NOT NULL,
    admin integer DEFAULT 0 NOT NULL,
    token_gen integer DEFAULT 0 NOT NULL
);


--
-- Name: users_id_seq; Type: SEQUENCE; Schema: release_030; Owner: -
--

CREATE SEQUENCE release_030.users_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: users_id_seq; Type: SEQUENCE OWNED BY; Schema: release_030; Owner: -
--

ALTER SEQUENCE release_030.users_id_seq OWNED BY release_030.users.id;


--
-- Name: users id; Type: DEFAULT; Schema: release_030; Owner: -
--

ALTER TABLE ONLY release_030.users ALTER COLUMN id SET DEFAULT nextval('release_030.users_id_seq'::regclass);


--
-- Data for Name: events; Type: TABLE DATA; Schema: release_030; Owner: -
--

COPY release_030.events (room, seq, sender, text, ts, client_id, kind, data) FROM stdin;
general	1	alice		1796282952494	9cbe1bc563fd4505ba035bc7f1a9441f	member	{"user":"alice","action":"created"}
general	2	alice	hello everyone	1796282952526	g1	message	\N
general	3	Bob		1796282952544	4a12d3253ea04857b93ddacae95a6b77	member	{"user":"Bob","action":"joined"}
general	4	Bob	héllo 👋	1796282952554	g2	message	\N
general	5	alice	line one\nline two	1796282952561	g3	message	\N
general	6	Bob	日本語もOK ✅	1796282952583	g4	message	\N
secret	1	alice		1796282952604	dd22ebe03af34c77b3c5f603305ae493	member	{"user":"alice","action":"created"}
secret	2	alice		1796282952633	0d968487883442389271a24b4ecc59c0	member	{"user":"Bob","action":"invited"}
secret	3	Bob		1796282952646	721b7119e2684909be103f3427847872	member	{"user":"Bob","action":"joined"}
secret	4	Bob	psst: launch is on Friday 🤫	1796282952699	s1	message	\N
dm.ce339ff53ecdddfbfb927de7f0eb3599	1	alice		1796282952725	29b3d57237f6418fad083b34d17feaaf	member	{"user":"alice","action":"created"}
dm.ce339ff53ecdddfbfb927de7f0eb3599	2	alice	hi carol, just between us 💬	1796282952751	m1	message	\N
general	7	alice	Welcome! Be nice ☕	1796282952761	62c80dd7927843a2bdf902e088ec2d5d	topic	\N
general	8	carol		1796282952786	b1fdfacdfdf94565bb11d1c0b14f6cbb	member	{"user":"carol","action":"joined"}
general	9	carol		1796282952814	7b4f86f6b478433da65bb300ac71f4fa	member	{"user":"carol","action":"left"}
\.


--
-- Data for Name: invites; Type: TABLE DATA; Schema: release_030; Owner: -
--

COPY release_030.invites (code, created_by, created_ms, expires_ms, uses_left) FROM stdin;
\.


--
-- Data for Name: members; Type: TABLE DATA; Schema: release_030; Owner: -
--

COPY release_030.members (room, username, state, role, muted, last_read) FROM stdin;
general	alice	member	owner	0	0
general	Bob	member	member	0	0
secret	alice	member	owner	0	0
secret	Bob	member	member	0	0
dm.ce339ff53ecdddfbfb927de7f0eb3599	alice	member	member	0	0
dm.ce339ff53ecdddfbfb927de7f0eb3599	carol	member	member	0	0
\.


--
-- Data for Name: rooms; Type: TABLE DATA; Schema: release_030; Owner: -
--

COPY release_030.rooms (name, last_seq, created_ms, visibility, topic) FROM stdin;
secret	4	1796282952589	private	
dm.ce339ff53ecdddfbfb927de7f0eb3599	2	1796282952718	dm	
general	9	1796282952481	public	Welcome! Be nice ☕
\.


--
-- Data for Name: schema_version; Type: TABLE DATA; Schema: release_030; Owner: -
--

COPY release_030.schema_version (version) FROM stdin;
1
2
3
\.


--
-- Data for Name: settings; Type: TABLE DATA; Schema: release_030; Owner: -
--

COPY release_030.settings (key, value) FROM stdin;
token_secret	13873ee246ca416eb5fef338578a1e425de3da4ad80b9b330e9ae44d21f4a049
healthz	1796282947915
\.


--
-- Data for Name: users; Type: TABLE DATA; Schema: release_030; Owner: -
--

COPY release_030.users (id, name, name_key, password_hash, created_ms, admin, token_gen) FROM stdin;
2	Bob	bob	$argon2id$v=19$m=65536,t=3,p=4$nXjOH5+se06linb2o9I1dA$VJlw5He3RtwWv5dmxTGK6OnKA3Zkn//f62aIa9cvaiY	1796282949248	0	0
3	carol	carol	$argon2id$v=19$m=65536,t=3,p=4$2YPHhej7ffsc5cyPe9564w$6Ts0VzAuEbb++Xt0TwcNrCnCtKEfO2inCOvVke+sr1o	1796282949535	0	0
1	alice	alice	$argon2id$v=19$m=65536,t=3,p=4$/pNWLOg6DjD5XpXYAPLxbA$1ArUloKWuNKBlSR5s7IYn2J8bKpBsZCR4+ulrCP/vEE	1796282948989	1	0
\.


--
-- Name: users_id_seq; Type: SEQUENCE SET; Schema: release_030; Owner: -
--

SELECT pg_catalog.setval('release_030.users_id_seq', 3, true);


--
-- Name: invites invites_pkey; Type: CONSTRAINT; Schema: release_030; Owner: -
--

ALTER TABLE ONLY release_030.invites
    ADD CONSTRAINT invites_pkey PRIMARY KEY (code);


--
-- Name: members members_pkey; Type: CONSTRAINT; Schema: release_030; Owner: -
--

ALTER TABLE ONLY release_030.members
    ADD CONSTRAINT members_pkey PRIMARY KEY (room, username);


--
-- Name: events messages_pkey; Type: CONSTRAINT; Schema: release_030; Owner: -
--

ALTER TABLE ONLY release_030.events
    ADD CONSTRAINT messages_pkey PRIMARY KEY (room, seq);


--
-- Name: events messages_sender_client_id; Type: CONSTRAINT; Schema: release_030; Owner: -
--

ALTER TABLE ONLY release_030.events
    ADD CONSTRAINT messages_sender_client_id UNIQUE (sender, client_id);


--
-- Name: rooms rooms_pkey; Type: CONSTRAINT; Schema: release_030; Owner: -
--

ALTER TABLE ONLY release_030.rooms
    ADD CONSTRAINT rooms_pkey PRIMARY KEY (name);


--
-- Name: settings settings_pkey; Type: CONSTRAINT; Schema: release_030; Owner: -
--

ALTER TABLE ONLY release_030.settings
    ADD CONSTRAINT settings_pkey PRIMARY KEY (key);


--
-- Name: users users_name_key_key; Type: CONSTRAINT; Schema: release_030; Owner: -
--

ALTER TABLE ONLY release_030.users
    ADD CONSTRAINT users_name_key_key UNIQUE (name_key);


--
-- Name: users users_pkey; Type: CONSTRAINT; Schema: release_030; Owner: -
--

ALTER TABLE ONLY release_030.users
    ADD CONSTRAINT users_pkey PRIMARY KEY (id);


--
-- Name: members_by_user; Type: INDEX; Schema: release_030; Owner: -
--

CREATE INDEX members_by_user ON release_030.members USING btree (username);


--
-- PostgreSQL database dump complete
--

\unrestrict K1LVoSaC1e2x5a8maUVx42n4C95WwyVhCBAOHpJWde6W0TT2r8hX6m7Tf7vM0dG

