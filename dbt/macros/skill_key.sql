{# A skill name as a key: lowercase; anything but letters, digits, `+`, `#` and `.` becomes a space;
    sentence dots go. The same rule normalizes search queries and forum posts, so names compare as
    words (int_skills_unioned, content_gaps, skill_demand_weeks; agents/briefs/evidence.py in Python). #}
{% macro skill_key(column) -%}
trim(regexp_replace(
    regexp_replace(lower({{ column }}), '[^a-z0-9+#.]+', ' ', 'g'), '[.]+( |$)', ' ', 'g'
))
{%- endmacro %}
