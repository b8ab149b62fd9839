-- read-feed-page, Message DB (npm @eventide/message-db): the same page as a
-- category read, get_category_messages of the category every loaded event
-- belongs to, from global position :p + 1 (its position argument is
-- inclusive), 1,000 messages.
\set p random(0, :maxpos - 1000)
\set from :p + 1
SELECT * FROM message_store.get_category_messages('load', :from, 1000);
