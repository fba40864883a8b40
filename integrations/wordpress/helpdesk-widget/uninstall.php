<?php
/**
 * Deleting the plugin removes its settings (the secret with them).
 *
 * @package HelpdeskWidget
 */

if ( ! defined( 'WP_UNINSTALL_PLUGIN' ) ) {
	exit;
}

delete_option( 'helpdesk_widget_options' );
