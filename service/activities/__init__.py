"""Theme activities and check-ins (打卡): recurring activities announced by a robot, one check-in per member
and occurrence, streaks and rankings; and the community's time zone, which decides local days."""
