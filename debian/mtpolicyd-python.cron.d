# Periodic tasks of mtpolicyd-python's plugins, for systems without systemd.
# With systemd the timers mtpolicyd-python-hourly.timer and mtpolicyd-python-daily.timer run them,
# and these lines do nothing.
SHELL=/bin/sh
PATH=/usr/sbin:/usr/bin:/sbin:/bin

0 1-23 * * *  mtpolicyd  [ -d /run/systemd/system ] || { . /etc/default/mtpolicyd-python; exec mtpolicyd-py --config "$MTPOLICYD_CONFIG" --cron hourly; }
0 0 * * *     mtpolicyd  [ -d /run/systemd/system ] || { . /etc/default/mtpolicyd-python; exec mtpolicyd-py --config "$MTPOLICYD_CONFIG" --cron hourly,daily; }
