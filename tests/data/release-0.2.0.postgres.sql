--
-- PostgreSQL database dump
--

\restrict mvRqEtocDjNHlzhafRPBKoVWAQRCNREIyz3YYPmyr5rvyFo6AUvh5ErRismFWcM

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
-- Name: release_020; Type: SCHEMA; Schema: -; Owner: -
--

CREATE SCHEMA release_020;


SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: events; Type: TABLE; Schema: release_020; Owner: -
--

CREATE TABLE release_020.events (
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
-- Name: rooms; Type: TABLE; Schema: release_020; Owner: -
--

CREATE TABLE release_020.rooms (
    name character varying(64) NOT NULL,
    last_seq bigint NOT NULL,
    created_ms bigint NOT NULL
);


--
-- Name: schema_version; Type: TABLE; Schema: release_020; Owner: -
--

CREATE TABLE release_020.schema_version (
    version integer NOT NULL
);


--
-- Name: settings; Type: TABLE; Schema: release_020; Owner: -
--

CREATE TABLE release_020.settings (
    key character varying(64) NOT NULL,
    value text NOT NULL
);


--
-- Name: users; Type: TABLE; Schema: release_020; Owner: -
--

CREATE TABLE release_020.users (
    id integer NOT NULL,
    name character varying(32) NOT NULL,
    name_key character varying(32) NOT NULL,
    password_hash text NOT NULL,
    created_ms bigint NOT NULL
);


--
-- Name: users_id_seq; Type: SEQUENCE; Schema: release_020; Owner: -
--

CREATE SEQUENCE release_020.users_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: users_id_seq; Type: SEQUENCE OWNED BY; Schema: release_020; Owner: -
--

ALTER SEQUENCE release_020.users_id_seq OWNED BY release_020.users.id;


--
-- Name: users id; Type: DEFAULT; Schema: release_020; Owner: -
--

ALTER TABLE ONLY release_020.users ALTER COLUMN id SET DEFAULT nextval('release_020.users_id_seq'::regclass);


--
-- Data for Name: events; Type: TABLE DATA; Schema: release_020; Owner: -
--

COPY release_020.events (room, seq, sender, text, ts, client_id, kind, data) FROM stdin;
general	1	alice	hello everyone	1796234193389	g1	message	\N
general	2	Bob	héllo 👋	1796234193401	g2	message	\N
general	3	alice	line one\nline two	1796234193410	g3	message	\N
dev	1	Bob	build is green ✅	1796234193421	d1	message	\N
dev	2	alice	ship it	1796234193429	d2	message	\N
\.


--
-- Data for Name: rooms; Type: TABLE DATA; Schema: release_020; Owner: -
--

COPY release_020.rooms (name, last_seq, created_ms) FROM stdin;
general	3	1796234193377
dev	2	1796234193416
empty	0	1796234193439
\.


--
-- Data for Name: schema_version; Type: TABLE DATA; Schema: release_020; Owner: -
--

COPY release_020.schema_version (version) FROM stdin;
1
2
\.


--
-- Data for Name: settings; Type: TABLE DATA; Schema: release_020; Owner: -
--

COPY release_020.settings (key, value) FROM stdin;
token_secret	0a92befce7a14e7e13323cbcd3365d66bf907db07f7e1d41006465d1694ec47d
\.


--
-- Data for Name: users; Type: TABLE DATA; Schema: release_020; Owner: -
--

COPY release_020.users (id, name, name_key, password_hash, created_ms) FROM stdin;
1	alice	alice	$argon2id$v=19$m=65536,t=3,p=4$11Rj0YxKCv3FlZLodsz8iA$SafJZX6Z1TQfjkyCUh0VpyqM9+3V5e+i1Ixv1u58jhY	1796234192611
2	Bob	bob	$argon2id$v=19$m=65536,t=3,p=4$oppAi36klQYzWdPFtdDQCQ$Hvk1w7ez3Fpnypnhs/FLt0+xIq4HQmJEwf0JKxU4c5M	1796234193148
3	carol	carol	$argon2id$v=19$m=65536,t=3,p=4$2weAcmNSAEglwYuzKpCnJA$02ee0KSTOhYt71TKvS4/Yv6L/GIgRI2A3gGXynGetdY	1796234193365
\.


--
-- Name: users_id_seq; Type: SEQUENCE SET; Schema: release_020; Owner: -
--

SELECT pg_catalog.setval('release_020.users_id_seq', 3, true);


--
-- Name: events messages_pkey; Type: CONSTRAINT; Schema: release_020; Owner: -
--

ALTER TABLE ONLY release_020.events
    ADD CONSTRAINT messages_pkey PRIMARY KEY (room, seq);


--
-- Name: events messages_sender_client_id; Type: CONSTRAINT; Schema: release_020; Owner: -
--

ALTER TABLE ONLY release_020.events
    ADD CONSTRAINT messages_sender_client_id UNIQUE (sender, client_id);


--
-- Name: rooms rooms_pkey; Type: CONSTRAINT; Schema: release_020; Owner: -
--

ALTER TABLE ONLY release_020.rooms
    ADD CONSTRAINT rooms_pkey PRIMARY KEY (name);


--
-- Name: settings settings_pkey; Type: CONSTRAINT; Schema: release_020; Owner: -
--

ALTER TABLE ONLY release_020.settings
    ADD CONSTRAINT settings_pkey PRIMARY KEY (key);


--
-- Name: users users_name_key_key; Type: CONSTRAINT; Schema: release_020; Owner: -
--

ALTER TABLE ONLY release_020.users
    ADD CONSTRAINT users_name_key_key UNIQUE (name_key);


--
-- Name: users users_pkey; Type: CONSTRAINT; Schema: release_020; Owner: -
--

ALTER TABLE ONLY release_020.users
    ADD CONSTRAINT users_pkey PRIMARY KEY (id);


--
-- PostgreSQL database dump complete
--

\unrestrict mvRqEtocDjNHlzhafRPBKoVWAQRCNREIyz3YYPmyr5rvyFo6AUvh5ErRismFWcM

