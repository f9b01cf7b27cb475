--
-- PostgreSQL database dump
--

\restrict mnrbOEiWiHWdZiGO7SBxj4H4vNWpgZVJJqxcguP5HZjM0UcFd7BlvVGBB5PMbfT

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
-- Name: release_040; Type: SCHEMA; Schema: -; Owner: -
--

CREATE SCHEMA release_040;


SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: call_parties; Type: TABLE; Schema: release_040; Owner: -
--

CREATE TABLE release_040.call_parties (
    call_id character varying(64) NOT NULL,
    username character varying(32) NOT NULL,
    state character varying(16) NOT NULL
);


--
-- Name: calls; Type: TABLE; Schema: release_040; Owner: -
--

CREATE TABLE release_040.calls (
    id character varying(64) NOT NULL,
    room character varying(64) NOT NULL,
    media character varying(8) NOT NULL,
    started_by character varying(32) NOT NULL,
    started_ms bigint NOT NULL,
    answered_ms bigint,
    ended_ms bigint
);


--
-- Name: events; Type: TABLE; Schema: release_040; Owner: -
--

CREATE TABLE release_040.events (
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
-- Name: file_parts; Type: TABLE; Schema: release_040; Owner: -
--

CREATE TABLE release_040.file_parts (
    key character varying(96) NOT NULL,
    part integer NOT NULL,
    data bytea NOT NULL,
    created_ms bigint NOT NULL
);


--
-- Name: files; Type: TABLE; Schema: release_040; Owner: -
--

CREATE TABLE release_040.files (
    id character varying(32) NOT NULL,
    room character varying(64) NOT NULL,
    uploader character varying(32) NOT NULL,
    client_id character varying(128) NOT NULL,
    size bigint NOT NULL,
    created_ms bigint NOT NULL,
    seq bigint,
    removed_ms bigint
);


--
-- Name: invites; Type: TABLE; Schema: release_040; Owner: -
--

CREATE TABLE release_040.invites (
    code character varying(64) NOT NULL,
    created_by character varying(32) NOT NULL,
    created_ms bigint NOT NULL,
    expires_ms bigint NOT NULL,
    uses_left integer NOT NULL
);


--
-- Name: members; Type: TABLE; Schema: release_040; Owner: -
--

CREATE TABLE release_040.members (
    room character varying(64) NOT NULL,
    username character varying(32) NOT NULL,
    state character varying(16) NOT NULL,
    role character varying(16) DEFAULT 'member'::character varying NOT NULL,
    muted integer DEFAULT 0 NOT NULL,
    last_read bigint DEFAULT '0'::bigint NOT NULL,
    notify character varying(16) DEFAULT 'all'::character varying NOT NULL
);


--
-- Name: reactions; Type: TABLE; Schema: release_040; Owner: -
--

CREATE TABLE release_040.reactions (
    room character varying(64) NOT NULL,
    seq bigint NOT NULL,
    emoji character varying(64) NOT NULL,
    username character varying(32) NOT NULL,
    created_ms bigint NOT NULL
);


--
-- Name: rooms; Type: TABLE; Schema: release_040; Owner: -
--

CREATE TABLE release_040.rooms (
    name character varying(64) NOT NULL,
    last_seq bigint NOT NULL,
    created_ms bigint NOT NULL,
    visibility character varying(16) DEFAULT 'public'::character varying NOT NULL,
    topic text DEFAULT ''::text NOT NULL
);


--
-- Name: schema_version; Type: TABLE; Schema: release_040; Owner: -
--

CREATE TABLE release_040.schema_version (
    version integer NOT NULL
);


--
-- Name: settings; Type: TABLE; Schema: release_040; Owner: -
--

CREATE TABLE release_040.settings (
    key character varying(64) NOT NULL,
    value text NOT NULL
);


--
-- Name: users; Type: TABLE; Schema: release_040; Owner: -
--

CREATE TABLE release_040.users (
    id integer NOT NULL,
    name character varying(32) NOT NULL,
    name_key character varying(32) NOT NULL,
    password_hash text NOT NULL,
    created_ms bigint NOT NULL,
    admin integer DEFAULT 0 NOT NULL,
    token_gen integer DEFAULT 0 NOT NULL
);


--
-- Name: users_id_seq; Type: SEQUENCE; Schema: release_040; Owner: -
--

CREATE SEQUENCE release_040.users_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: users_id_seq; Type: SEQUENCE OWNED BY; Schema: release_040; Owner: -
--

ALTER SEQUENCE release_040.users_id_seq OWNED BY release_040.users.id;


--
-- Name: users id; Type: DEFAULT; Schema: release_040; Owner: -
--

ALTER TABLE ONLY release_040.users ALTER COLUMN id SET DEFAULT nextval('release_040.users_id_seq'::regclass);


--
-- Data for Name: call_parties; Type: TABLE DATA; Schema: release_040; Owner: -
--

COPY release_040.call_parties (call_id, username, state) FROM stdin;
call040answered	Bob	joined
call040answered	alice	left
call040declined	Bob	joined
call040declined	alice	declined
\.


--
-- Data for Name: calls; Type: TABLE DATA; Schema: release_040; Owner: -
--

COPY release_040.calls (id, room, media, started_by, started_ms, answered_ms, ended_ms) FROM stdin;
call040answered	dm.1cb15457d1ddab60e205c0fe3ca2f65d	video	alice	1796305126077	1796305126606	1796305127892
call040declined	dm.1cb15457d1ddab60e205c0fe3ca2f65d	voice	Bob	1796305127940	\N	1796305128123
\.


--
-- Data for Name: events; Type: TABLE DATA; Schema: release_040; Owner: -
--

COPY release_040.events (room, seq, sender, text, ts, client_id, kind, data) FROM stdin;
general	1	alice		1796305123913	ff911988f56044348c06cc2f83184d97	member	{"user":"alice","action":"created"}
general	3	Bob		1796305123951	add4d5b2c37d4281bf87accd7ed56b04	member	{"user":"Bob","action":"joined"}
general	4	Bob	héllo 👋	1796305123958	g2	message	\N
general	5	alice	line one\nline two	1796305123965	g3	message	\N
general	6	carol		1796305123975	c793da02375b4ba886fd987c6b1f1928	member	{"user":"carol","action":"joined"}
general	7	carol	日本語もOK ✅	1796305123986	g4	message	\N
general	8	Dana.Lee		1796305124002	825a7fa9cdb149459c7444bae2cdea9b	member	{"user":"Dana.Lee","action":"joined"}
general	2	alice	hello everyone (edited) ✏️	1796305123936	g1	message	{"edited":true}
general	10	alice	hello everyone (edited) ✏️	1796305124121	a5c95d2456204f97990746303f193259	edit	{"target":2}
general	11	Dana.Lee		1796305124158	8aa1f3cba4cb4066b7bc99513cfe4c23	delete	{"target":9}
general	9	Dana.Lee		1796305124071	g5	message	{"deleted":true}
general	12	alice	👍	1796305124179	7a0d8364982c4dca8109d9ff6455b2d6	reaction	{"target":4}
general	13	carol	🎉	1796305124225	84ace46d69284c908f249143c846cf70	reaction	{"target":4}
general	14	Bob	yes, two lines 👍	1796305124293	g6	message	{"reply_to":5}
general	15	alice	@Bob @carol have a look at the picture below	1796305124417	g7	message	{"mentions":["Bob","carol"]}
general	16	alice	a gradient 🌈	1796305125014	f1	message	{"file":{"id":"rmm00_U06ZYRSOX7ho8fQA","name":"gradient.png","type":"image/png","size":138,"kind":"image","width":64,"height":48,"thumb":true}}
secret	1	alice		1796305125178	5bc50524760543d38004dd71726b8194	member	{"user":"alice","action":"created"}
secret	2	alice		1796305125492	3c5322ef4df84afb818cf7360b0b30af	member	{"user":"Bob","action":"invited"}
secret	3	Bob		1796305125516	44ad4a64c2b4434f9ae4210ba8bcb738	member	{"user":"Bob","action":"joined"}
secret	4	Bob	psst: launch is on Friday 🤫	1796305125710	s1	message	\N
secret	5	Bob	the notes	1796305125918	f2	message	{"reply_to":4,"file":{"id":"oAxQ058dTdW-hSvCFG8UXw","name":"notes.txt","type":"application/octet-stream","size":40,"kind":"file"}}
dm.1cb15457d1ddab60e205c0fe3ca2f65d	1	alice		1796305125939	082d3e4f9f8b411d9d4fd4d8b4bb36b9	member	{"user":"alice","action":"created"}
dm.1cb15457d1ddab60e205c0fe3ca2f65d	2	alice	call you in a minute? 📞	1796305125958	m1	message	\N
dm.1cb15457d1ddab60e205c0fe3ca2f65d	3	Bob		1796305126031	v1	message	{"file":{"id":"ENQ5PfpmFIdGp0cfKTe5Aw","name":"voice.wav","type":"audio/wav","size":8044,"kind":"voice","duration_ms":500}}
dm.1cb15457d1ddab60e205c0fe3ca2f65d	4	alice		1796305126228	840000edc00a410e9d493472ed4206fd	call	{"call_id":"call040answered","action":"started","media":"video"}
dm.1cb15457d1ddab60e205c0fe3ca2f65d	5	Bob		1796305126634	4bba5ccfb0054fb387fd49eeb6094b0b	call	{"call_id":"call040answered","action":"joined"}
dm.1cb15457d1ddab60e205c0fe3ca2f65d	6	alice		1796305127922	a22abdbc19644383ac87f3c0b3f46976	call	{"call_id":"call040answered","action":"ended","duration_ms":1286}
dm.1cb15457d1ddab60e205c0fe3ca2f65d	7	Bob		1796305127965	e55393a6d7a94219bec1b09894c9f404	call	{"call_id":"call040declined","action":"started","media":"voice"}
dm.1cb15457d1ddab60e205c0fe3ca2f65d	8	alice		1796305128107	041b75762bfd4cafaa9cb853d747a8e3	call	{"call_id":"call040declined","action":"declined"}
dm.1cb15457d1ddab60e205c0fe3ca2f65d	9	alice		1796305128131	810d83dfb24847ee9c1adce826f000cd	call	{"call_id":"call040declined","action":"missed"}
\.


--
-- Data for Name: file_parts; Type: TABLE DATA; Schema: release_040; Owner: -
--

COPY release_040.file_parts (key, part, data, created_ms) FROM stdin;
rmm00_U06ZYRSOX7ho8fQA.thumb	0	\\x52494646fe0000005745425056503820f20000007008009d012a400030003e6d2e9245af2f21980d5400f006c4b33573558077d36f4fdfc653723a7d538079f62e83214ee29e5479419642c01a52c99fff9bb49db8eebc3fc33b4f549a5b7cf000fefd5e9cdf042ce7350d0fff9bf7b0cf47739b58a37856175272af128c6b5fc4511d2d45597b17fb4da61b37d6dcc386dbf6886edf9db0eedec4f5ac29ea79c4150556d985e8526c7c788cdd567087144db91fcdb57de351961f2663ae8fdae3adb38ed7fe4388e59dc4a294103d22c05faf78bfa5aa7ac36e92dc26fd6082557c7ee7df72e94056d88970e4081531254e3653e7fcb3d9713d75ea716065be0880dbbb0000	1796305124720
rmm00_U06ZYRSOX7ho8fQA	0	\\x89504e470d0a1a0a0000000d49484452000000400000003008020000002e29eb480000005149444154789cedcf0109c04000c4b01bec7d4ffa648487861ae8b37def767367576b406b406b406b406b406b406b406b406b406b406b406b406b406b406b406b406b406b406b406b406b406b406b40fb018753032567f2491c0000000049454e44ae426082	1796305124834
oAxQ058dTdW-hSvCFG8UXw	0	\\x52656c6561736520302e342e30206e6f7465730a66696c657320e29c942063616c6c7320e29c940a	1796305125899
ENQ5PfpmFIdGp0cfKTe5Aw	0	\\x52494646641f000057415645666d74201000000001000100401f0000803e00000200100064617461401f0000c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0c0e0401f401f401f401f401f401f401f401f401fc0e0c0e0c0e0c0e0	1796305126001
\.


--
-- Data for Name: files; Type: TABLE DATA; Schema: release_040; Owner: -
--

COPY release_040.files (id, room, uploader, client_id, size, created_ms, seq, removed_ms) FROM stdin;
rmm00_U06ZYRSOX7ho8fQA	general	alice	f1	138	1796305124527	16	\N
oAxQ058dTdW-hSvCFG8UXw	secret	Bob	f2	40	1796305125812	5	\N
ENQ5PfpmFIdGp0cfKTe5Aw	dm.1cb15457d1ddab60e205c0fe3ca2f65d	Bob	v1	8044	1796305125989	3	\N
\.


--
-- Data for Name: invites; Type: TABLE DATA; Schema: release_040; Owner: -
--

COPY release_040.invites (code, created_by, created_ms, expires_ms, uses_left) FROM stdin;
\.


--
-- Data for Name: members; Type: TABLE DATA; Schema: release_040; Owner: -
--

COPY release_040.members (room, username, state, role, muted, last_read, notify) FROM stdin;
general	alice	member	owner	0	0	all
general	Dana.Lee	member	member	0	0	all
secret	alice	member	owner	0	0	all
secret	Bob	member	member	0	0	all
dm.1cb15457d1ddab60e205c0fe3ca2f65d	Bob	member	member	0	2	all
general	Bob	member	member	0	7	mentions
general	carol	member	member	0	12	none
dm.1cb15457d1ddab60e205c0fe3ca2f65d	alice	member	member	0	0	mentions
\.


--
-- Data for Name: reactions; Type: TABLE DATA; Schema: release_040; Owner: -
--

COPY release_040.reactions (room, seq, emoji, username, created_ms) FROM stdin;
general	4	👍	alice	1796305124194
general	4	🎉	carol	1796305124228
\.


--
-- Data for Name: rooms; Type: TABLE DATA; Schema: release_040; Owner: -
--

COPY release_040.rooms (name, last_seq, created_ms, visibility, topic) FROM stdin;
general	16	1796305123846	public	
secret	5	1796305125176	private	
dm.1cb15457d1ddab60e205c0fe3ca2f65d	9	1796305125930	dm	
\.


--
-- Data for Name: schema_version; Type: TABLE DATA; Schema: release_040; Owner: -
--

COPY release_040.schema_version (version) FROM stdin;
1
2
3
4
5
6
\.


--
-- Data for Name: settings; Type: TABLE DATA; Schema: release_040; Owner: -
--

COPY release_040.settings (key, value) FROM stdin;
token_secret	83080b0c752d01fa5443be6fc32810a7806ca8203efae8c2a2751f4d6833d7b4
healthz	1796305115100
\.


--
-- Data for Name: users; Type: TABLE DATA; Schema: release_040; Owner: -
--

COPY release_040.users (id, name, name_key, password_hash, created_ms, admin, token_gen) FROM stdin;
2	Bob	bob	$argon2id$v=19$m=65536,t=3,p=4$D2O95IITJATZY7C4kqJlaw$2CB0o+dQXRhmcL5K8rqh0KvspN6i4eJIRiia7Q/wbTU	1796305117691	0	0
3	carol	carol	$argon2id$v=19$m=65536,t=3,p=4$rLlfI3To2084HS/f8uV5uA$YK7pXwzoQh4fKGnDKezB3EDYkHY5m4O00knyxbqoOqY	1796305118106	0	0
4	Dana.Lee	dana.lee	$argon2id$v=19$m=65536,t=3,p=4$qLFn8pZVYjtsYFkTDbJ8og$4TCpUUk5uDdonogZpUifGeb2p4d1Ne1L+j9d37XjUX0	1796305118459	0	0
1	alice	alice	$argon2id$v=19$m=65536,t=3,p=4$4Pp/L47DL9zGhTkBUp6aDw$M+A24SOh5m5Ma9gk5Xh7bld7/FVBreGz4UT7meVhKxM	1796305117124	1	0
\.


--
-- Name: users_id_seq; Type: SEQUENCE SET; Schema: release_040; Owner: -
--

SELECT pg_catalog.setval('release_040.users_id_seq', 4, true);


--
-- Name: call_parties call_parties_pkey; Type: CONSTRAINT; Schema: release_040; Owner: -
--

ALTER TABLE ONLY release_040.call_parties
    ADD CONSTRAINT call_parties_pkey PRIMARY KEY (call_id, username);


--
-- Name: calls calls_pkey; Type: CONSTRAINT; Schema: release_040; Owner: -
--

ALTER TABLE ONLY release_040.calls
    ADD CONSTRAINT calls_pkey PRIMARY KEY (id);


--
-- Name: file_parts file_parts_pkey; Type: CONSTRAINT; Schema: release_040; Owner: -
--

ALTER TABLE ONLY release_040.file_parts
    ADD CONSTRAINT file_parts_pkey PRIMARY KEY (key, part);


--
-- Name: files files_pkey; Type: CONSTRAINT; Schema: release_040; Owner: -
--

ALTER TABLE ONLY release_040.files
    ADD CONSTRAINT files_pkey PRIMARY KEY (id);


--
-- Name: invites invites_pkey; Type: CONSTRAINT; Schema: release_040; Owner: -
--

ALTER TABLE ONLY release_040.invites
    ADD CONSTRAINT invites_pkey PRIMARY KEY (code);


--
-- Name: members members_pkey; Type: CONSTRAINT; Schema: release_040; Owner: -
--

ALTER TABLE ONLY release_040.members
    ADD CONSTRAINT members_pkey PRIMARY KEY (room, username);


--
-- Name: events messages_pkey; Type: CONSTRAINT; Schema: release_040; Owner: -
--

ALTER TABLE ONLY release_040.events
    ADD CONSTRAINT messages_pkey PRIMARY KEY (room, seq);


--
-- Name: events messages_sender_client_id; Type: CONSTRAINT; Schema: release_040; Owner: -
--

ALTER TABLE ONLY release_040.events
    ADD CONSTRAINT messages_sender_client_id UNIQUE (sender, client_id);


--
-- Name: reactions reactions_pkey; Type: CONSTRAINT; Schema: release_040; Owner: -
--

ALTER TABLE ONLY release_040.reactions
    ADD CONSTRAINT reactions_pkey PRIMARY KEY (room, seq, emoji, username);


--
-- Name: rooms rooms_pkey; Type: CONSTRAINT; Schema: release_040; Owner: -
--

ALTER TABLE ONLY release_040.rooms
    ADD CONSTRAINT rooms_pkey PRIMARY KEY (name);


--
-- Name: settings settings_pkey; Type: CONSTRAINT; Schema: release_040; Owner: -
--

ALTER TABLE ONLY release_040.settings
    ADD CONSTRAINT settings_pkey PRIMARY KEY (key);


--
-- Name: users users_name_key_key; Type: CONSTRAINT; Schema: release_040; Owner: -
--

ALTER TABLE ONLY release_040.users
    ADD CONSTRAINT users_name_key_key UNIQUE (name_key);


--
-- Name: users users_pkey; Type: CONSTRAINT; Schema: release_040; Owner: -
--

ALTER TABLE ONLY release_040.users
    ADD CONSTRAINT users_pkey PRIMARY KEY (id);


--
-- Name: events_search; Type: INDEX; Schema: release_040; Owner: -
--

CREATE INDEX events_search ON release_040.events USING gin (to_tsvector('simple'::regconfig, regexp_replace(text, '[^[:alnum:]]+'::text, ' '::text, 'g'::text))) WHERE ((kind)::text = 'message'::text);


--
-- Name: files_by_message; Type: INDEX; Schema: release_040; Owner: -
--

CREATE INDEX files_by_message ON release_040.files USING btree (room, seq);


--
-- Name: files_by_uploader; Type: INDEX; Schema: release_040; Owner: -
--

CREATE INDEX files_by_uploader ON release_040.files USING btree (uploader, created_ms);


--
-- Name: members_by_user; Type: INDEX; Schema: release_040; Owner: -
--

CREATE INDEX members_by_user ON release_040.members USING btree (username);


--
-- PostgreSQL database dump complete
--

\unrestrict mnrbOEiWiHWdZiGO7SBxj4H4vNWpgZVJJqxcguP5HZjM0UcFd7BlvVGBB5PMbfT

