"""Reading mtpolicyd.conf: Config::General syntax and the typed model of both dialects."""
