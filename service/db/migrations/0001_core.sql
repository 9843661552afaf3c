-- Users of the mini program: one row per openid of our appid.
CREATE TABLE users (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    appid       text NOT NULL,
    openid      text NOT NULL,
    unionid     text,
    nickname    text NOT NULL DEFAULT '',
    avatar_url  text NOT NULL DEFAULT '',
    phone       text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (appid, openid)
);
CREATE INDEX users_unionid ON users (unionid) WHERE unionid IS NOT NULL;
