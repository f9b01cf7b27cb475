--
-- PostgreSQL database dump
--

\restrict B5s8cgSHyqomdNhb5tvivE0NgMR0RGjsFseNOebolw07OrnvYfHwK9KTwcSMoZX

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
-- Name: release_010; Type: SCHEMA; Schema: -; Owner: -
--

CREATE SCHEMA release_010;


SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: messages; Type: TABLE; Schema: release_010; Owner: -
--

CREATE TABLE release_010.messages (
    room character varying(64) NOT NULL,
    seq bigint NOT NULL,
    sender character varying(32) NOT NULL,
    text text NOT NULL,
    ts bigint NOT NULL,
    client_id character varying(128) NOT NULL
);


--
-- Name: rooms; Type: TABLE; Schema: release_010; Owner: -
--

CREATE TABLE release_010.rooms (
    name character varying(64) NOT NULL,
    last_seq bigint NOT NULL,
    created_ms bigint NOT NULL
);


--
-- Name: schema_version; Type: TABLE; Schema: release_010; Owner: -
--

CREATE TABLE release_010.schema_version (
    version integer NOT NULL
);


--
-- Name: settings; Type: TABLE; Schema: release_010; Owner: -
--

CREATE TABLE release_010.settings (
    key character varying(64) NOT NULL,
    value text NOT NULL
);


--
-- Name: users; Type: TABLE; Schema: release_010; Owner: -
--

CREATE TABLE release_010.users (
    id integer NOT NULL,
    name character varying(32) NOT NULL,
    name_key character varying(32) NOT NULL,
    password_hash text NOT NULL,
    created_ms bigint NOT NULL
);


--
-- Name: users_id_seq; Type: SEQUENCE; Schema: release_010; Owner: -
--

CREATE SEQUENCE release_010.users_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: users_id_seq; Type: SEQUENCE OWNED BY; Schema: release_010; Owner: -
--

ALTER SEQUENCE release_010.users_id_seq OWNED BY release_010.users.id;


--
-- Name: users id; Type: DEFAULT; Schema: release_010; Owner: -
--

ALTER TABLE ONLY release_010.users ALTER COLUMN id SET DEFAULT nextval('release_010.users_id_seq'::regclass);


--
-- Data for Name: messages; Type: TABLE DATA; Schema: release_010; Owner: -
--

COPY release_010.messages (room, seq, sender, text, ts, client_id) FROM stdin;
general	1	alice	hello everyone	1796222459245	g1
general	2	Bob	héllo 👋	1796222459249	g2
general	3	alice	line one\nline two	1796222459253	g3
general	4	Bob	quotes "double" and 'single' and a backslash \\	1796222459258	g4
general	5	alice	last message in general	1796222459262	g5
dev	1	Bob	build is green ✅	1796222459266	d1
dev	2	alice	ship it	1796222459270	d2
\.


--
-- Data for Name: rooms; Type: TABLE DATA; Schema: release_010; Owner: -
--

COPY release_010.rooms (name, last_seq, created_ms) FROM stdin;
general	5	1796222459243
dev	2	1796222459265
empty	0	1796222459273
\.


--
-- Data for Name: schema_version; Type: TABLE DATA; Schema: release_010; Owner: -
--

COPY release_010.schema_version (version) FROM stdin;
1
\.


--
-- Data for Name: settings; Type: TABLE DATA; Schema: release_010; Owner: -
--

COPY release_010.settings (key, value) FROM stdin;
token_secret	b0c75b64aba51c70900aa1c90bd9f25534c6e0aac76b790648e788ad26a2e9e2
\.


--
-- Data for Name: users; Type: TABLE DATA; Schema: release_010; Owner: -
--

COPY release_010.users (id, name, name_key, password_hash, created_ms) FROM stdin;
1	alice	alice	$argon2id$v=19$m=65536,t=3,p=4$FWWDI8FsQCqaS5XfUEf9tw$KBDe3W9ZqA7lqSkXNIp+Gb7szeOnMBiB+6gw1WRLrxg	1796222459120
2	Bob	bob	$argon2id$v=19$m=65536,t=3,p=4$YWhs5ggREKOgofoqhPzndg$A7Yyx7nfAOyPOuERKmJ20BAUyCG2pXTYdbpRjAKXYGo	1796222459237
\.


--
-- Name: users_id_seq; Type: SEQUENCE SET; Schema: release_010; Owner: -
--

SELECT pg_catalog.setval('release_010.users_id_seq', 2, true);


--
-- Name: messages messages_pkey; Type: CONSTRAINT; Schema: release_010; Owner: -
--

ALTER TABLE ONLY release_010.messages
    ADD CONSTRAINT messages_pkey PRIMARY KEY (room, seq);


--
-- Name: messages messages_sender_client_id; Type: CONSTRAINT; Schema: release_010; Owner: -
--

ALTER TABLE ONLY release_010.messages
    ADD CONSTRAINT messages_sender_client_id UNIQUE (sender, client_id);


--
-- Name: rooms rooms_pkey; Type: CONSTRAINT; Schema: release_010; Owner: -
--

ALTER TABLE ONLY release_010.rooms
    ADD CONSTRAINT rooms_pkey PRIMARY KEY (name);


--
-- Name: settings settings_pkey; Type: CONSTRAINT; Schema: release_010; Owner: -
--

ALTER TABLE ONLY release_010.settings
    ADD CONSTRAINT settings_pkey PRIMARY KEY (key);


--
-- Name: users users_name_key_key; Type: CONSTRAINT; Schema: release_010; Owner: -
--

ALTER TABLE ONLY release_010.users
    ADD CONSTRAINT users_name_key_key UNIQUE (name_key);


--
-- Name: users users_pkey; Type: CONSTRAINT; Schema: release_010; Owner: -
--

ALTER TABLE ONLY release_010.users
    ADD CONSTRAINT users_pkey PRIMARY KEY (id);


--
-- PostgreSQL database dump complete
--

\unrestrict B5s8cgSHyqomdNhb5tvivE0NgMR0RGjsFseNOebolw07OrnvYfHwK9KTwcSMoZX

